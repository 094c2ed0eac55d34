import { defineConfig } from 'vite';

// The UI is served by the web node itself (apps/web/src/ui/serve-ui.ts): hashed files under /assets are
// cached forever, index.html is revalidated. During `vite dev`, API calls go to a node on :8080.
export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    chunkSizeWarningLimit: 400,
  },
  server: {
    proxy: {
      '/api': { target: 'http://127.0.0.1:8080', changeOrigin: false },
      '/sky': { target: 'http://127.0.0.1:8080', changeOrigin: false },
    },
  },
});
