// `npm run bench -- --svg <file>`: one SVG with a panel per measurement (message set and
// workload): a bar per system, its length the median rate, labelled with the rate and its
// ratio to the raw-TCP ceiling and to grpc-js. Plain SVG, no dependencies.

import type { SystemInfo, SummaryRow } from "./report.js";
import type { WorkloadKind } from "./system.js";

const WIDTH = 1180;
const COLUMNS = 2;
const GAP = 24;
const PANEL_WIDTH = (WIDTH - GAP * (COLUMNS + 1)) / COLUMNS;
const LABEL_WIDTH = 128;
const BAR_HEIGHT = 15;
const ROW_HEIGHT = 19;
const PANEL_HEADER = 26;
const VALUE_ROOM = 236;

const COLORS: Record<string, string> = {
  protosocket: "#d9480f",
  "protosocket-4conn": "#f08c00",
  "connect-transport": "#fd7e14",
  "connect-served": "#ffa94d",
  "rust-client": "#e8590c",
  "rust-server": "#5c940d",
  rust: "#2b8a3e",
  raw: "#495057",
  thrift: "#1971c2",
  "grpc-js": "#7048e8",
  "connect-grpc": "#ae3ec9",
  connect: "#c2255c",
};

const SET_NOTES: Record<string, string> = {
  small: ": echo.v1 (int, string, bytes fields only)",
  realistic: ": an order with uint64 id, int64 timestamp, double, repeated strings, a nested message and a map",
  grpc: ": gRPC's benchmark SimpleRequest / SimpleResponse with a payload",
};

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function unit(workload: WorkloadKind): string {
  return workload === "stream" ? "msgs/s" : workload === "connect-rate" ? "conns/s" : "calls/s";
}

function ratio(n: number | undefined): string {
  return n === undefined ? "" : `${n >= 10 ? n.toFixed(1) : n.toFixed(2)}×`;
}

/** The chart of one run (rows as `aggregate` returns them). */
export function renderChart(
  systems: readonly SystemInfo[],
  rows: readonly SummaryRow[],
  run: { rounds: number; duration: number; machine: string; date: Date },
): string {
  const keys = [...new Set(rows.map((r) => r.key))];
  const shown = systems.filter((s) => s.skipped === undefined).map((s) => s.name);
  const panels = keys.map((key) => {
    const mine = rows.filter((r) => r.key === key && shown.includes(r.system) && r.rate !== undefined);
    return { key, rows: mine, height: PANEL_HEADER + Math.max(1, mine.length) * ROW_HEIGHT + 10 };
  });
  const out: string[] = [];
  // Row-major, a heading and a new row for each message set.
  const placed: ((typeof panels)[number] & { x: number; y: number })[] = [];
  const headings: { text: string; y: number }[] = [];
  let y = 64;
  let set = "";
  let column = 0;
  let rowHeight = 0;
  for (const panel of panels) {
    const panelSet = panel.key.split(" ")[0] ?? "";
    if (panelSet !== set || column === COLUMNS) {
      y += rowHeight + (rowHeight > 0 ? GAP / 2 : 0);
      column = 0;
      rowHeight = 0;
      if (panelSet !== set) {
        set = panelSet;
        headings.push({ text: `${set} messages${SET_NOTES[set] ?? ""}`, y: y + 14 });
        y += 24;
      }
    }
    placed.push({ ...panel, x: GAP + column * (PANEL_WIDTH + GAP), y });
    rowHeight = Math.max(rowHeight, panel.height);
    column++;
  }
  const height = y + rowHeight + 44;
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="Helvetica, Arial, sans-serif" role="img">`,
  );
  out.push(`<title>protosocket-ts benchmark: rate per system, with its ratio to raw TCP and to grpc-js</title>`);
  out.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  out.push(
    `<text x="${GAP}" y="28" font-size="18" font-weight="bold" fill="#212529">protosocket-ts benchmark: rate per system (bar), with its ratio to the raw-TCP ceiling and to grpc-js</text>`,
  );
  out.push(
    `<text x="${GAP}" y="48" font-size="12" fill="#495057">${escapeXml(
      `${run.date.toISOString().slice(0, 10)} · ${run.machine} · medians of ${run.rounds} round(s) of ${run.duration} s · server and load generator in separate processes over 127.0.0.1 · compare only within one run`,
    )}</text>`,
  );
  for (const h of headings)
    out.push(`<text x="${GAP}" y="${h.y}" font-size="14" font-weight="bold" fill="#343a40">${escapeXml(h.text)}</text>`);
  for (const panel of placed) {
    const { x, y } = panel;
    const max = Math.max(1, ...panel.rows.map((r) => r.rate ?? 0));
    const workload = panel.rows[0]?.workload ?? "unary";
    out.push(`<g transform="translate(${x.toFixed(1)},${y})">`);
    out.push(`<rect x="0" y="0" width="${PANEL_WIDTH.toFixed(1)}" height="${panel.height}" rx="6" fill="#f8f9fa" stroke="#dee2e6"/>`);
    out.push(`<text x="10" y="18" font-size="13" font-weight="bold" fill="#212529">${escapeXml(panel.key)}</text>`);
    out.push(`<text x="${(PANEL_WIDTH - 10).toFixed(1)}" y="18" font-size="11" text-anchor="end" fill="#868e96">${unit(workload)}</text>`);
    const barRoom = PANEL_WIDTH - LABEL_WIDTH - VALUE_ROOM - 20;
    panel.rows.forEach((row, i) => {
      const by = PANEL_HEADER + i * ROW_HEIGHT;
      const w = Math.max(1, ((row.rate ?? 0) / max) * barRoom);
      const color = COLORS[row.system] ?? "#868e96";
      const ratios = [
        row.system !== "raw" && row.ratios.raw !== undefined ? `${ratio(row.ratios.raw)} raw` : "",
        row.system !== "grpc-js" && row.ratios["grpc-js"] !== undefined ? `${ratio(row.ratios["grpc-js"])} grpc-js` : "",
      ]
        .filter((t) => t !== "")
        .join(" · ");
      out.push(`<text x="10" y="${by + 12}" font-size="12" fill="#343a40">${escapeXml(row.system)}</text>`);
      out.push(`<rect x="${LABEL_WIDTH}" y="${by}" width="${w.toFixed(1)}" height="${BAR_HEIGHT}" rx="2" fill="${color}"/>`);
      out.push(
        `<text x="${(LABEL_WIDTH + w + 6).toFixed(1)}" y="${by + 12}" font-size="11" fill="#212529">${escapeXml(
          `${Math.round(row.rate ?? 0).toLocaleString("en-US")}${ratios === "" ? "" : `  (${ratios})`}`,
        )}</text>`,
      );
    });
    out.push(`</g>`);
  }
  out.push(
    `<text x="${GAP}" y="${height - 14}" font-size="11" fill="#868e96">npm run bench -- --svg FILE · bench/README.md explains every workload and system</text>`,
  );
  out.push(`</svg>`);
  return `${out.join("\n")}\n`;
}
