import { createHash, createHmac } from "node:crypto";
import { SignatureV4 } from "@smithy/signature-v4";
import { describe, expect, it } from "vitest";
import { signedHeaders } from "../../src/providers/bedrock/converse.js";

/** Node's crypto in the shape the SDK's signer takes (what @smithy/hash-node provides). */
class Sha256 {
  private readonly hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret ? createHmac("sha256", toBytes(secret)) : createHash("sha256");
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(toBytes(data));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
}

function toBytes(data: string | ArrayBuffer | ArrayBufferView): string | Uint8Array {
  if (typeof data === "string") return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

// Documentation-style example credentials (not a real key).
const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" };
const date = new Date("2026-11-25T12:34:56.000Z");
const host = "bedrock-runtime.us-east-1.amazonaws.com";
// A model id with ":" is escaped once in the path and twice in the canonical request, which both must agree on.
const path = `/model/${encodeURIComponent("anthropic.claude-3-5-sonnet-20240620-v1:0")}/converse-stream`;
const body = JSON.stringify({ messages: [{ role: "user", content: [{ text: "héllo" }] }] });

async function sdkSignature(creds: typeof credentials & { sessionToken?: string }, extra: Record<string, string>) {
  // applyChecksum off: the SDK would also sign an x-amz-content-sha256 header, which Bedrock does not need.
  const signer = new SignatureV4({
    service: "bedrock",
    region: "us-east-1",
    credentials: creds,
    sha256: Sha256,
    applyChecksum: false,
  });
  const signed = await signer.sign(
    {
      method: "POST",
      protocol: "https:",
      hostname: host,
      path,
      query: {},
      headers: {
        ...extra,
        "content-type": "application/json",
        "content-length": String(Buffer.byteLength(body)),
        host,
      },
      body,
    },
    { signingDate: date },
  );
  return signed.headers as Record<string, string>;
}

describe("Bedrock request signing (aws4)", () => {
  it("gives the same SigV4 signature as the AWS SDK's own signer", async () => {
    const ours = signedHeaders(path, body, host, "us-east-1", credentials, {}, date);
    const sdk = await sdkSignature(credentials, {});
    expect(ours["X-Amz-Date"]).toBe("20261125T123456Z");
    expect(ours.Authorization).toBe(sdk.authorization);
    expect(ours.Authorization).toContain("Credential=AKIDEXAMPLE/20261125/us-east-1/bedrock/aws4_request");
  });

  it("signs the session token and configured headers too", async () => {
    const temporary = { ...credentials, sessionToken: "session-token-example" };
    const ours = signedHeaders(path, body, host, "us-east-1", temporary, { "x-team": "blue" }, date);
    const sdk = await sdkSignature(temporary, { "x-team": "blue" });
    expect(ours["X-Amz-Security-Token"]).toBe("session-token-example");
    expect(ours["x-team"]).toBe("blue");
    expect(ours.Authorization).toBe(sdk.authorization);
  });

  it("leaves Host and Content-Length to undici", () => {
    const ours = signedHeaders(path, body, host, "us-east-1", credentials, {}, date);
    expect(Object.keys(ours).map((k) => k.toLowerCase())).not.toContain("host");
    expect(Object.keys(ours).map((k) => k.toLowerCase())).not.toContain("content-length");
  });
});
