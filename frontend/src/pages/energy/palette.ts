// Chart colours per theme (text and grid as the foundation's PowerChart; series colours readable on both).
export interface Palette {
  dark: boolean;
  text: string;
  muted: string;
  grid: string;
  negative: string;
  negativeArea: string;
  series: string[];
}

export function palette(dark: boolean): Palette {
  return dark
    ? { dark, text: "#cbd5e1", muted: "#94a3b8", grid: "#334155", negative: "#f87171", negativeArea: "rgba(248,113,113,0.18)", series: ["#38bdf8", "#facc15", "#a78bfa", "#34d399", "#fb923c", "#f472b6"] }
    : { dark, text: "#334155", muted: "#475569", grid: "#e2e8f0", negative: "#dc2626", negativeArea: "rgba(220,38,38,0.12)", series: ["#0369a1", "#ca8a04", "#7c3aed", "#059669", "#ea580c", "#db2777"] };
}
