import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/model/errors.js';
import { formatDuration, parseDuration, parseRange, parseTime } from '../../src/query/time.js';

const NOW = Date.UTC(2024, 4, 1, 12, 0, 0); // 2024-05-01T12:00:00Z
const SEC = 1000;
const MIN = 60 * SEC;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

describe('parseTime', () => {
  it('reads now and offsets from now', () => {
    expect(parseTime('now', NOW)).toBe(NOW);
    expect(parseTime('now-1h', NOW)).toBe(NOW - HOUR);
    expect(parseTime('now-15m', NOW)).toBe(NOW - 15 * MIN);
    expect(parseTime('now-30s', NOW)).toBe(NOW - 30 * SEC);
    expect(parseTime('now-7d', NOW)).toBe(NOW - 7 * DAY);
    expect(parseTime('now-1w', NOW)).toBe(NOW - 7 * DAY);
    expect(parseTime('now-1h30m', NOW)).toBe(NOW - HOUR - 30 * MIN);
    expect(parseTime('now+5min', NOW)).toBe(NOW + 5 * MIN);
    expect(parseTime('now-1mon', NOW)).toBe(NOW - 30 * DAY);
    expect(parseTime(' now - 2h ', NOW)).toBe(NOW - 2 * HOUR);
    // Grafana and Pyroscope also send the offset alone.
    expect(parseTime('-6h', NOW)).toBe(NOW - 6 * HOUR);
  });

  it('reads Unix times by their number of digits, as Pyroscope does', () => {
    expect(parseTime('1714564800', NOW)).toBe(1_714_564_800_000); // seconds
    expect(parseTime('1714564800123', NOW)).toBe(1_714_564_800_123); // milliseconds
    expect(parseTime('1714564800123456', NOW)).toBe(1_714_564_800_123); // microseconds
    expect(parseTime('1714564800123456789', NOW)).toBe(1_714_564_800_123); // nanoseconds
    expect(parseTime('20240501', NOW)).toBe(Date.UTC(2024, 4, 1)); // YYYYMMDD
    expect(parseTime('0', NOW)).toBe(0);
  });

  it('reads RFC 3339', () => {
    expect(parseTime('2024-05-01T10:00:00Z', NOW)).toBe(NOW - 2 * HOUR);
    expect(parseTime('2024-05-01T12:00:00.500+02:00', NOW)).toBe(NOW - 2 * HOUR + 500);
    expect(parseTime('2024-05-01 12:00:00Z', NOW)).toBe(NOW);
  });

  for (const bad of ['', 'yesterday', 'now-1x', 'now-', 'now-h', '2024-13-45T00:00:00Z', '12345678901234567890123']) {
    it(`rejects ${JSON.stringify(bad)} with an InputError`, () => {
      expect(() => parseTime(bad, NOW)).toThrow(InputError);
    });
  }
});

describe('parseDuration', () => {
  it('reads the usual steps and compound durations', () => {
    expect(parseDuration('15s')).toBe(15 * SEC);
    expect(parseDuration('1m')).toBe(MIN);
    expect(parseDuration('1h')).toBe(HOUR);
    expect(parseDuration('1d')).toBe(DAY);
    expect(parseDuration('7d')).toBe(7 * DAY);
    expect(parseDuration('1h30m')).toBe(HOUR + 30 * MIN);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('10')).toBe(10 * SEC); // Pyroscope's step is seconds
    expect(parseDuration('0.5')).toBe(500);
  });

  for (const bad of ['', '1x', 'h', '1h 30m', '-1h', '1.5.h']) {
    it(`rejects ${JSON.stringify(bad)}`, () => expect(() => parseDuration(bad)).toThrow(InputError));
  }

  it('rejects a duration too long to count in milliseconds', () => {
    expect(() => parseDuration('9'.repeat(400))).toThrow(/too long/);
    expect(() => parseDuration(`${'9'.repeat(400)}y`)).toThrow(InputError);
    expect(() => parseDuration('300000000y')).toThrow(InputError);
  });

  it('formats back', () => {
    expect(formatDuration(HOUR + 30 * MIN)).toBe('1h30m');
    expect(formatDuration(15 * SEC)).toBe('15s');
    expect(formatDuration(0)).toBe('0s');
  });
});

describe('parseRange', () => {
  it('parses both ends against one now', () => {
    expect(parseRange('now-1h', 'now', NOW)).toEqual({ from: NOW - HOUR, to: NOW });
  });

  it('rejects an end before the start, naming both', () => {
    expect(() => parseRange('now', 'now-1h', NOW)).toThrow(/ends before it starts: until 2024-05-01T11:00:00.000Z < from 2024-05-01T12:00:00.000Z/);
  });

  it('rejects an end no date can name, with a message rather than a crash', () => {
    expect(() => parseRange('now', 'now+999999999y', NOW)).toThrow(/outside the dates/);
    // Beyond the date range and before the start: the message must not try to print that date.
    expect(() => parseRange('now', 'now-999999999y', NOW)).toThrow(InputError);
    expect(() => parseRange('now-300000y', 'now', NOW)).toThrow(InputError);
  });
});
