// A line chart on a plain canvas: one series of [time, value] points, the last hour.

export function lineChart(canvas, points, { color = "#05527a", unit = "" } = {}) {
  const g = canvas.getContext("2d");
  const { width, height } = canvas;
  const pad = { left: 40, right: 8, top: 8, bottom: 18 };
  g.clearRect(0, 0, width, height);
  g.font = "11px system-ui, sans-serif";
  g.fillStyle = "#666";
  const shown = points.filter(([, v]) => v !== null && v !== undefined);
  if (shown.length === 0) {
    g.fillText("no figures yet", pad.left, height / 2);
    canvas.dataset.points = "0";
    return;
  }
  const t0 = shown[0][0];
  const t1 = Math.max(shown[shown.length - 1][0], t0 + 1);
  const top = Math.max(1, ...shown.map(([, v]) => v)) * 1.1;
  const x = (t) => pad.left + (t - t0) / (t1 - t0) * (width - pad.left - pad.right);
  const y = (v) => height - pad.bottom - v / top * (height - pad.top - pad.bottom);
  g.strokeStyle = "#ddd";
  g.beginPath();
  for (const v of [0, top / 2, top]) {
    g.moveTo(pad.left, y(v)); g.lineTo(width - pad.right, y(v));
    g.fillText(`${Math.round(v * 10) / 10}${unit}`, 2, y(v) + 4);
  }
  g.stroke();
  const minutes = Math.round((t1 - t0) / 60);
  g.fillText(`last ${minutes} min`, pad.left, height - 4);
  g.strokeStyle = color;
  g.lineWidth = 2;
  g.beginPath();
  shown.forEach(([t, v], i) => (i ? g.lineTo(x(t), y(v)) : g.moveTo(x(t), y(v))));
  g.stroke();
  g.lineWidth = 1;
  g.fillStyle = color;
  if (shown.length < 40) {
    for (const [t, v] of shown) { g.beginPath(); g.arc(x(t), y(v), 2.5, 0, 2 * Math.PI); g.fill(); }
  }
  canvas.dataset.points = String(shown.length);
}
