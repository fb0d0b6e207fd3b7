import { describe, expect, it } from "vitest";
import { GatewayError } from "../../src/errors.js";
import { compose, type NamedStage } from "../../src/pipeline/compose.js";
import { RequestContext } from "../../src/pipeline/context.js";
import { weightedPicker } from "../../src/routing/weighted.js";
import { requestLine } from "../../src/server/observe.js";

const ctx = () => new RequestContext("req-1", "chat", performance.now());

describe("compose", () => {
  it("runs stages in order, onion-style: each may act before and after next()", async () => {
    const trace: string[] = [];
    const stage = (name: string): NamedStage => ({
      name,
      run: async (_ctx, next) => {
        trace.push(`${name}:before`);
        await next();
        trace.push(`${name}:after`);
      },
    });
    await compose([stage("a"), stage("b"), stage("c")])(ctx());
    expect(trace).toEqual(["a:before", "b:before", "c:before", "c:after", "b:after", "a:after"]);
  });

  it("lets a stage answer without calling the rest (a cache hit, a refusal)", async () => {
    const reached: string[] = [];
    await compose([
      { name: "short", run: async () => void reached.push("short") },
      { name: "never", run: async () => void reached.push("never") },
    ])(ctx());
    expect(reached).toEqual(["short"]);
  });

  it("rejects, rather than throws, when a stage throws synchronously", async () => {
    const run = compose([
      {
        name: "boom",
        run: () => {
          throw new Error("sync");
        },
      },
    ]);
    await expect(run(ctx())).rejects.toThrow("sync");
  });

  it("refuses a stage that calls next() twice", async () => {
    const run = compose([
      {
        name: "twice",
        run: async (_c, next) => {
          await next();
          await next();
        },
      },
    ]);
    await expect(run(ctx())).rejects.toThrow("next() called twice in stage twice");
  });
});

describe("RequestContext", () => {
  it("runs finalizers once, innermost first, however often it is finished", () => {
    const c = ctx();
    const order: string[] = [];
    c.whenDone(() => order.push("outer"));
    c.whenDone(() => order.push("inner"));
    c.finish("completed");
    c.finish("client_abort");
    expect(order).toEqual(["inner", "outer"]);
    expect(c.outcome).toBe("completed");
    expect(c.durationMs).toBeGreaterThanOrEqual(0);
  });
});

describe("weightedPicker", () => {
  it("picks in proportion to the weights", () => {
    const picker = weightedPicker(["a", "b", "c"], (x) => ({ a: 1, b: 3, c: 0 })[x] as number);
    expect(picker?.items).toEqual(["a", "b"]);
    const counts = { a: 0, b: 0, c: 0 };
    for (let i = 0; i < 4000; i++) counts[picker?.pick(i / 4000) as "a"]++;
    expect(counts).toEqual({ a: 1000, b: 3000, c: 0 });
  });

  it("is undefined when nothing has weight", () => {
    expect(weightedPicker(["a"], () => 0)).toBeUndefined();
  });
});

describe("the request log line", () => {
  it("is one valid JSON line in pino's shape, with odd aliases escaped", () => {
    const c = ctx();
    c.alias = 'we"ird\n\u2028alias';
    c.status = 404;
    c.finish(
      "error",
      new GatewayError("nope", { status: 404, type: "invalid_request_error", code: "model_not_found" }),
    );
    const line = requestLine(c);
    expect(line.endsWith("}\n")).toBe(true);
    expect(line.split("\n")).toHaveLength(2);
    expect(JSON.parse(line)).toEqual({
      level: "info",
      time: expect.any(Number),
      service: "tollgate",
      request_id: "req-1",
      endpoint: "chat",
      alias: 'we"ird\n\u2028alias',
      stream: false,
      status: 404,
      outcome: "error",
      latency_ms: expect.any(Number),
      error_code: "model_not_found",
      msg: "request",
    });
  });
});
