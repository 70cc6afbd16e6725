import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { SeriesJson } from '../api/querier.js';
import { seriesScale } from '../model/units.js';

const COLORS = ['#3d7be0', '#e0683d', '#3dae6b', '#a05bd6', '#d6b23d', '#3dbad6', '#d63d7b', '#7b8a99'];

/**
 * Time series of the selection (one line per group), drawn with uPlot. Dragging across the plot selects a
 * range, which becomes the page's range (and so the flame graph's).
 */
export function SeriesChart(props: {
  series: SeriesJson[];
  start: number;
  end: number;
  step: number;
  sampleUnit: string;
  groupBy: string;
  dark: boolean;
  onSelectRange: (start: number, end: number) => void;
}) {
  const ref = useRef<HTMLDivElement>(null);
  const onSelect = useRef(props.onSelectRange);
  onSelect.current = props.onSelectRange;

  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const { scale, label } = seriesScale(props.sampleUnit, props.step);
    // Groups sorted by label, so a group keeps its colour and legend place from one query to the next.
    const key = (x: SeriesJson) => (x.labels ?? []).map((l) => `${l.name}=${l.value}`).join(',');
    const series = [...props.series].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
    // Align every series on one grid of step-sized buckets covering the range.
    const stepMs = props.step * 1000;
    const first = Math.floor(props.start / stepMs) * stepMs;
    const xs: number[] = [];
    for (let t = first; t <= props.end; t += stepMs) xs.push(t / 1000);
    const index = new Map(xs.map((x, i) => [Math.round(x * 1000), i]));
    const ys = series.map((s) => {
      const arr: (number | null)[] = new Array(xs.length).fill(null);
      for (const p of s.points ?? []) {
        const ts = Number(p.timestamp ?? 0);
        const i = index.get(Math.floor(ts / stepMs) * stepMs);
        if (i !== undefined) arr[i] = (arr[i] ?? 0) + scale(p.value ?? 0);
      }
      return arr;
    });
    const filled = ys.reduce((n, arr) => n + arr.filter((v) => v !== null).length, 0);
    const sparse = filled < 120 * Math.max(1, ys.length);
    const names = series.map((s, i) => {
      const l = (s.labels ?? []).filter((x) => !props.groupBy || x.name === props.groupBy);
      return l.length ? l.map((x) => `${x.name}=${x.value}`).join(', ') : i === 0 ? 'total' : `series ${i + 1}`;
    });
    const axisColor = props.dark ? '#c9cdd3' : '#333';
    const grid = props.dark ? '#2c3038' : '#eceef1';
    const opts: uPlot.Options = {
      width: el.clientWidth || 800,
      height: 180,
      cursor: { drag: { x: true, y: false, setScale: false } },
      select: { show: true, left: 0, top: 0, width: 0, height: 0 },
      legend: { show: true },
      // y from zero: a chart of CPU that starts at 0.12 cores makes a flat line look like a cliff.
      scales: {
        x: { time: true, min: props.start / 1000, max: props.end / 1000 },
        y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
      },
      axes: [
        { stroke: axisColor, grid: { stroke: grid } },
        { stroke: axisColor, grid: { stroke: grid }, label, size: 60 },
      ],
      series: [
        {},
        ...names.map((n, i) => ({
          label: n,
          stroke: COLORS[i % COLORS.length],
          fill: series.length === 1 ? `${COLORS[0]}22` : undefined,
          width: 1.5,
          // Profiles arrive every few seconds to minutes: join the pushes, and mark them when sparse.
          spanGaps: true,
          points: { show: sparse, size: 5 },
        })),
      ],
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < 3) return;
            const a = u.posToVal(u.select.left, 'x');
            const b = u.posToVal(u.select.left + u.select.width, 'x');
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            onSelect.current(Math.round(a * 1000), Math.round(b * 1000));
          },
        ],
      },
    };
    const plot = new uPlot(opts, [xs, ...ys] as uPlot.AlignedData, el);
    const ro = new ResizeObserver(() => plot.setSize({ width: el.clientWidth, height: 180 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [props.series, props.start, props.end, props.step, props.sampleUnit, props.groupBy, props.dark]);

  return <div className="chart" ref={ref} data-testid="chart" />;
}
