/**
 * A service's value over the range as a small line (one point per bucket of the overview's step),
 * scaled to its own peak: the shape says "steady, growing or spiky" at a glance; the numbers beside it
 * say how much.
 */
export function OverviewSparkline(props: { points: readonly number[]; width?: number; height?: number }) {
  const width = props.width ?? 140;
  const height = props.height ?? 26;
  const { points } = props;
  const max = Math.max(...points, 0);
  const n = points.length;
  const xy = points.map((v, i) => {
    const x = n <= 1 ? width / 2 : (i / (n - 1)) * (width - 2) + 1;
    const y = max > 0 ? height - 2 - (v / max) * (height - 4) : height - 2;
    return `${x.toFixed(1)},${y.toFixed(1)}`;
  });
  return (
    <svg className="spark" width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label="CPU over the range">
      <polyline points={`1,${height - 1} ${xy.join(' ')} ${width - 1},${height - 1}`} className="spark-area" />
      <polyline points={xy.join(' ')} className="spark-line" />
    </svg>
  );
}
