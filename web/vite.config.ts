// The portal's build: `npm run build` (and so `npm start` and `npm test`) runs it into web/dist,
// which every node serves. Asset names carry their content hash, so nodes cache them for a year.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  root: import.meta.dirname,
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 1000,
  },
  logLevel: 'warn',
});
