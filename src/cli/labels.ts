import { Command } from 'commander';
import { parseMatchers, parseSelector } from '../query/selector.js';
import { action, clientFrom, out, withServerOptions } from './common.js';
import { rangeFrom, withRangeOptions } from './range.js';
import { formatTable } from './table.js';

interface ProfileTypesResponse {
  profileTypes?: { ID: string; name: string; sampleType: string; sampleUnit: string; periodType: string; periodUnit: string }[];
}
interface NamesResponse {
  names?: string[];
}

/** querier.v1 matchers take `{…}` or `type{…}`; check it here so a typo fails before any request. */
function matchersOf(selector: string | undefined): string[] {
  if (!selector) return [];
  if (selector.trim().startsWith('{')) parseMatchers(selector);
  else parseSelector(selector);
  return [selector];
}

export function labelsCommand(): Command {
  return withRangeOptions(withServerOptions(new Command('labels')))
    .description('List label names, or the values of one label, of series in a range.')
    .argument('[name]', 'label whose values to list (e.g. service_name)')
    .option('-s, --selector <selector>', 'only series matching this selector, e.g. {namespace="shop"}')
    .addHelpText('after', '\nExamples:\n  kiln labels\n  kiln labels service_name --from now-24h')
    .action(action(async (name: string | undefined, opts: { selector?: string; from: string; until: string; url: string; tenant?: string }) => {
      const range = rangeFrom(opts);
      const body = { matchers: matchersOf(opts.selector), start: String(range.from), end: String(range.to) };
      const client = clientFrom(opts);
      const res = name
        ? await client.connect<NamesResponse>('LabelValues', { ...body, name })
        : await client.connect<NamesResponse>('LabelNames', body);
      await out((res.names ?? []).join('\n'));
    }));
}

export function typesCommand(): Command {
  return withRangeOptions(withServerOptions(new Command('types')), 'now-24h')
    .description('List the profile types that have data in a range (what a selector starts with).')
    .option('--json', 'print JSON instead of a table', false)
    .action(action(async (opts: { json: boolean; from: string; until: string; url: string; tenant?: string }) => {
      const range = rangeFrom(opts);
      const res = await clientFrom(opts).connect<ProfileTypesResponse>('ProfileTypes', { start: String(range.from), end: String(range.to) });
      const types = res.profileTypes ?? [];
      if (opts.json) return out(JSON.stringify(types, null, 2));
      await out(formatTable(['TYPE', 'SAMPLE', 'UNIT'], types.map((t) => [t.ID, t.sampleType, t.sampleUnit])));
    }));
}
