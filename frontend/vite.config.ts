/// <reference types="vitest/config" />
import react from "@vitejs/plugin-react";
import tailwindcss from "@tailwindcss/vite";
import { defineConfig } from "vite";

// `npm run dev` serves the app on :5173 and forwards API calls to `luna serve` (LUNA_API, default :8001).
const api = process.env.LUNA_API ?? "http://127.0.0.1:8001";
const apiPrefixes = [
  "/admin", "/alerts", "/anomalies", "/auth", "/documents", "/forecast", "/health", "/ingest", "/kpis",
  "/meters", "/metrics", "/optimize", "/quality", "/rag", "/rules", "/scenarios", "/search", "/sim",
  "/status", "/timeseries", "/openapi.json", "/docs", "/redoc", "/api-docs",
];

export default defineConfig({
  plugins: [react(), tailwindcss()],
  server: {
    proxy: Object.fromEntries(apiPrefixes.map((prefix) => [prefix, { target: api, changeOrigin: false }])),
  },
  build: {
    target: "es2022",
    sourcemap: false,
    chunkSizeWarningLimit: 700,
  },
  test: {
    environment: "jsdom",
    include: ["tests/**/*.test.{ts,tsx}"],
    setupFiles: ["tests/setup.ts"],
    css: false,
  },
});
