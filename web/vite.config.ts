import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// Served under /app by `parley serve` (PARLEY_WEB_DIST=web/dist), and by `vite` / `vite preview` on
// an origin of their own in development (the API then answers CORS: PARLEY_CORS_ORIGINS).
export default defineConfig({
  base: "/app/",
  plugins: [react()],
  build: { outDir: "dist", sourcemap: false, target: "es2022" },
  server: { port: 5173, strictPort: false },
});
