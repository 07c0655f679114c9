import { defineConfig } from "vitest/config";

// Tests import each package's TypeScript source through the "source" export condition, so
// `vitest run` needs no build. Every project inherits these settings (extends: true).
const conditions = ["source", "module", "node", "development|production"];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Builds, then lets worker threads load the built JavaScript (test/global-setup.ts).
    globalSetup: ["./test/global-setup.ts"],
    projects: [
      {
        extends: true,
        test: { name: "clock-sweep", include: ["packages/clock-sweep/test/**/*.test.ts"] },
      },
      {
        extends: true,
        test: { name: "buffer-manager", include: ["packages/buffer-manager/test/**/*.test.ts"] },
      },
      { extends: true, test: { name: "heap-am", include: ["packages/heap-am/test/**/*.test.ts"] } },
      { extends: true, test: { name: "bench", include: ["packages/bench/test/**/*.test.ts"] } },
      { extends: true, test: { name: "integration", include: ["test/**/*.test.ts"] } },
    ],
  },
});
