import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The page's files, found from the package root: `src/dashboard/public/` is two levels up from both
 * `src/dashboard/assets.ts` (tsx, tests) and `dist/dashboard/assets.js` (after `npm run build`), so the tsc-only
 * build copies nothing. The package ships that folder (package.json `files`, the Dockerfile).
 */
export const PUBLIC_DIR = fileURLToPath(new URL("../../src/dashboard/public/", import.meta.url));

const require = createRequire(import.meta.url);
const JS = "text/javascript; charset=utf-8";
const CSS = "text/css; charset=utf-8";

/** Every file the dashboard serves, by URL name: an allow-list, never a path taken from the request. */
const FILES: Record<string, { path: () => string; type: string; vendor: boolean }> = {
  "app.js": { path: () => join(PUBLIC_DIR, "app.js"), type: JS, vendor: false },
  "app.css": { path: () => join(PUBLIC_DIR, "app.css"), type: CSS, vendor: false },
  "vendor/preact.mjs": { path: () => require.resolve("preact"), type: JS, vendor: true },
  "vendor/hooks.mjs": { path: () => require.resolve("preact/hooks"), type: JS, vendor: true },
  // htm exports no subpath for its ESM build under require: it sits beside the CommonJS one.
  "vendor/htm.mjs": { path: () => join(dirname(require.resolve("htm")), "htm.mjs"), type: JS, vendor: true },
  "vendor/uPlot.esm.js": { path: () => require.resolve("uplot/dist/uPlot.esm.js"), type: JS, vendor: true },
  "vendor/uPlot.min.css": { path: () => require.resolve("uplot/dist/uPlot.min.css"), type: CSS, vendor: true },
};

export interface Asset {
  body: string;
  type: string;
  /** Response headers beyond the content type. */
  headers: Record<string, string>;
}

const SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

// The packages' own source maps are not served; a browser with dev tools open would ask for them in vain.
const SOURCE_MAP_COMMENT = /\n?\/[/*]# sourceMappingURL=\S+(?:\s*\*\/)?\s*$/;

/** The dashboard's files, read once on first use and kept in memory (a few hundred KB). */
export class DashboardAssets {
  private loaded: Promise<Map<string, Asset>> | undefined;

  /** The page, or an allow-listed file by its URL name; undefined for anything else. */
  async get(name: string): Promise<Asset | undefined> {
    this.loaded ??= this.load().catch((err: unknown) => {
      this.loaded = undefined; // a file missing from the install: the next request tries again
      throw err;
    });
    return (await this.loaded).get(name);
  }

  private async load(): Promise<Map<string, Asset>> {
    const out = new Map<string, Asset>();
    for (const [name, file] of Object.entries(FILES)) {
      let body = await readFile(file.path(), "utf8");
      if (file.vendor) body = body.replace(SOURCE_MAP_COMMENT, "\n");
      const cache = file.vendor ? "public, max-age=86400" : "no-cache";
      out.set(name, { body, type: file.type, headers: { ...SECURITY_HEADERS, "cache-control": cache } });
    }
    const html = await readFile(join(PUBLIC_DIR, "index.html"), "utf8");
    out.set("index.html", {
      body: html,
      type: "text/html; charset=utf-8",
      headers: { ...SECURITY_HEADERS, "cache-control": "no-cache", "content-security-policy": policyFor(html) },
    });
    return out;
  }
}

/** Own origin only; the one inline script, the import map, is allowed by its hash. */
function policyFor(html: string): string {
  const importMap = html.match(/<script type="importmap">([\s\S]*?)<\/script>/)?.[1];
  const hash = importMap === undefined ? "" : ` 'sha256-${createHash("sha256").update(importMap).digest("base64")}'`;
  return [
    "default-src 'self'",
    `script-src 'self'${hash}`,
    // uPlot sizes its elements through style attributes.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; ");
}
