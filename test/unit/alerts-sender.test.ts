import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  type AlertEvent,
  AlertSender,
  alertBody,
  type DeliveryResult,
  signAlert,
  verifyAlertSignature,
} from "../../src/alerts/index.js";

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A webhook receiver over real HTTP; `statuses` are answered in turn, then 200. */
async function receiver(statuses: number[] = []): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      body += chunk;
    });
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      res.statusCode = statuses.shift() ?? 200;
      res.end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received, server };
}

const servers: Server[] = [];
const senders: AlertSender[] = [];

afterEach(async () => {
  await Promise.all(senders.splice(0).map((s) => s.close(100)));
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    server.close();
  }
});

function sender(options: ConstructorParameters<typeof AlertSender>[0]): AlertSender {
  const s = new AlertSender({ baseDelayMs: 10, ...options });
  senders.push(s);
  return s;
}

const event: AlertEvent = {
  kind: "soft",
  scope: "team:search",
  period: "monthly:2026-11",
  threshold: 0.8,
  usedFraction: 0.8125,
  spentUsd: 81.25,
  limitUsd: 100,
  at: "2026-11-25T12:00:00.000Z",
};

describe("AlertSender", () => {
  it("signs the JSON body with HMAC-SHA256 over timestamp.body", async () => {
    const hook = await receiver();
    const alerts = sender({ targets: [{ url: hook.url, format: "json", secret: "s3cret" }] });
    alerts.send(event);
    expect(await alerts.close(2000)).toBe(0);

    expect(hook.received).toHaveLength(1);
    const [{ headers, body }] = hook.received as [Received];
    const timestamp = headers["x-tollgate-timestamp"] as string;
    const signature = headers["x-tollgate-signature"] as string;
    expect(signature).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verifyAlertSignature("s3cret", timestamp, body, signature)).toBe(true);
    expect(verifyAlertSignature("wrong", timestamp, body, signature)).toBe(false);
    expect(verifyAlertSignature("s3cret", timestamp, `${body} `, signature)).toBe(false);
    expect(signAlert("s3cret", timestamp, body)).toBe(signature);
    expect(headers["content-type"]).toBe("application/json");
    expect(JSON.parse(body)).toEqual({
      type: "tollgate.budget.alert",
      id: "team:search|monthly:2026-11|0.8|soft",
      kind: "soft",
      scope: "team:search",
      period: "monthly:2026-11",
      threshold: 0.8,
      usedFraction: 0.8125,
      spentUsd: 81.25,
      limitUsd: 100,
      at: "2026-11-25T12:00:00.000Z",
    });
  });

  it("sends one alert per threshold per period", async () => {
    const hook = await receiver();
    const alerts = sender({ targets: [{ url: hook.url, format: "json", secret: "s" }] });
    alerts.send(event);
    alerts.send({ ...event, usedFraction: 0.9, spentUsd: 90 });
    alerts.send({ ...event, kind: "hard", threshold: 1, usedFraction: 1 });
    alerts.send({ ...event, kind: "hard", threshold: 1, usedFraction: 1.01 });
    alerts.send({ ...event, period: "monthly:2026-12" });
    await alerts.close(2000);
    const ids = hook.received.map((r) => r.headers["x-tollgate-event-id"]);
    expect(ids).toHaveLength(3);
    expect(new Set(ids)).toEqual(
      new Set([
        "team:search|monthly:2026-11|0.8|soft",
        "team:search|monthly:2026-11|1|hard",
        "team:search|monthly:2026-12|0.8|soft",
      ]),
    );
  });

  it("retries a failing receiver with backoff and delivers once", async () => {
    const hook = await receiver([500, 503]);
    const results: DeliveryResult[] = [];
    const alerts = sender({
      targets: [{ url: hook.url, format: "json", secret: "s" }],
      onResult: (r) => results.push(r),
    });
    alerts.send(event);
    await alerts.close(5000);
    expect(hook.received).toHaveLength(3);
    expect(results).toEqual([expect.objectContaining({ ok: true, attempts: 3, status: 200 })]);
    // Every attempt carries a valid signature of the same body.
    for (const { headers, body } of hook.received) {
      expect(
        verifyAlertSignature(
          "s",
          headers["x-tollgate-timestamp"] as string,
          body,
          headers["x-tollgate-signature"] as string,
        ),
      ).toBe(true);
    }
  });

  it("gives up after the bounded attempts, and does not retry a 4xx", async () => {
    const failing = await receiver([500, 500, 500, 500]);
    const rejecting = await receiver([400]);
    const results: DeliveryResult[] = [];
    const alerts = sender({
      targets: [
        { url: failing.url, format: "json", secret: "s" },
        { url: rejecting.url, format: "json", secret: "s" },
      ],
      maxAttempts: 3,
      onResult: (r) => results.push(r),
    });
    alerts.send(event);
    await alerts.close(5000);
    expect(failing.received).toHaveLength(3);
    expect(rejecting.received).toHaveLength(1);
    expect(results).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ url: failing.url, ok: false, attempts: 3, status: 500 }),
        expect.objectContaining({ url: rejecting.url, ok: false, attempts: 1, status: 400 }),
      ]),
    );
  });

  it("retries network errors", async () => {
    const hook = await receiver();
    const dead = await receiver();
    const deadUrl = dead.url;
    dead.server.close();
    const results: DeliveryResult[] = [];
    const alerts = sender({
      targets: [{ url: deadUrl, format: "json" }],
      maxAttempts: 2,
      onResult: (r) => results.push(r),
    });
    alerts.send(event);
    await alerts.close(5000);
    expect(results).toEqual([expect.objectContaining({ ok: false, attempts: 2, error: expect.any(String) })]);
    expect(hook.received).toHaveLength(0);
  });

  it("posts Slack's { text } body", async () => {
    const hook = await receiver();
    const alerts = sender({ targets: [{ url: hook.url, format: "slack" }] });
    alerts.send({ ...event, kind: "hard", threshold: 1, usedFraction: 1, spentUsd: 100 });
    await alerts.close(2000);
    const body = JSON.parse((hook.received[0] as Received).body) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(["text"]);
    expect(body.text).toContain("Budget exceeded for team:search (monthly:2026-11): 100% used, $100.00 of $100.00");
    // No secret: no signature header.
    expect((hook.received[0] as Received).headers["x-tollgate-signature"]).toBeUndefined();
  });

  it("never blocks or throws into the caller, and close() abandons what is past its deadline", async () => {
    const hook = await receiver([500, 500, 500, 500, 500]);
    const alerts = sender({
      targets: [{ url: hook.url, format: "json", secret: "s" }],
      baseDelayMs: 10_000,
      onResult: () => {
        throw new Error("observer bug");
      },
    });
    const started = performance.now();
    alerts.send(event);
    expect(performance.now() - started).toBeLessThan(5);
    expect(alerts.pending).toBe(1);
    const closing = performance.now();
    expect(await alerts.close(200)).toBe(1);
    expect(performance.now() - closing).toBeLessThan(1000);
    expect(alerts.pending).toBe(0);
    // After close, send is a no-op.
    alerts.send({ ...event, period: "other" });
    expect(alerts.pending).toBe(0);
  });

  it("dedupes across replicas through the claim hook", async () => {
    const hook = await receiver();
    const claimed = new Set<string>();
    const claim = (id: string) => {
      if (claimed.has(id)) return false;
      claimed.add(id);
      return true;
    };
    const a = sender({ targets: [{ url: hook.url, format: "json" }], claim });
    const b = sender({ targets: [{ url: hook.url, format: "json" }], claim: async (id) => claim(id) });
    a.send(event);
    b.send(event);
    await Promise.all([a.close(2000), b.close(2000)]);
    expect(hook.received).toHaveLength(1);
  });
});

describe("alertBody for forecasts and anomalies", () => {
  const base = { scope: "team:search", period: "monthly:2026-11", threshold: 1, usedFraction: 0.4, at: 0 };

  it("says when the forecast reaches the limit, in JSON and in Slack's text", () => {
    const event: AlertEvent = {
      ...base,
      kind: "projected_budget_breach",
      spentUsd: 40,
      limitUsd: 100,
      projectedDate: "2026-11-21",
      forecastUsd: 130,
    };
    const json = JSON.parse(alertBody(event, "json"));
    expect(json).toMatchObject({ type: "tollgate.forecast.alert", projectedDate: "2026-11-21", forecastUsd: 130 });
    expect(JSON.parse(alertBody(event, "slack")).text).toMatch(/reaches \$100\.00 on 2026-11-21 \(\$130\.00 by/);
  });

  it("carries the anomaly's rate, baseline and score", () => {
    const anomaly = { metric: "spend" as const, rate: 50, baseline: 10, zScore: 7.5 };
    const event: AlertEvent = { ...base, kind: "anomaly_critical", spentUsd: 4, limitUsd: 0, anomaly };
    expect(JSON.parse(alertBody(event, "json"))).toMatchObject({ type: "tollgate.anomaly.alert", anomaly });
    expect(JSON.parse(alertBody(event, "slack")).text).toMatch(/spend rate 50\.00 USD\/h against a baseline of 10\.00/);
    // Budget alerts keep their type, so existing receivers are unaffected.
    expect(JSON.parse(alertBody({ ...base, kind: "soft", spentUsd: 1, limitUsd: 2 }, "json")).type).toBe(
      "tollgate.budget.alert",
    );
  });
});
