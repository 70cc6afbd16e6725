import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';

// The UI is built into ui/dist, which `kiln server` serves at `/` (option uiDir).
// `dev:ui` proxies the API to a local server so the page can be developed against real data.
const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  // Absolute asset paths: the server answers any HTML route with index.html, and the page must load from there too.
  base: '/',
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 1024 },
  server: {
    proxy: {
      '/querier.v1.QuerierService': process.env.KILN_URL ?? 'http://127.0.0.1:4040',
      '/api': process.env.KILN_URL ?? 'http://127.0.0.1:4040',
    },
  },
});
