// Verify a Care Exchange webhook delivery: Standard Webhooks, HMAC-SHA256 signatures ("v1").
// Node.js 18 or later, built-in crypto only. Give it the subscription's secret ("whsec_..."),
// the request's headers and its raw body as a Buffer, exactly as received: a body parsed and
// serialised again no longer matches its signature.
import { createHmac, timingSafeEqual } from "node:crypto";

export const TOLERANCE_SECONDS = 5 * 60; // refuse deliveries signed longer ago (or later): replays

export class InvalidWebhookError extends Error {}

function header(headers, name) {
  // A fetch Headers object, or Node's plain object of lower-case names.
  const value = typeof headers.get === "function" ? headers.get(name) : headers[name];
  return Array.isArray(value) ? value[0] : (value ?? "");
}

export function verifyWebhook(secret, headers, body, now = Date.now() / 1000) {
  const id = header(headers, "webhook-id");
  const timestamp = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  if (!id || !/^[0-9]+$/.test(timestamp) || !signatures) {
    throw new InvalidWebhookError("missing or malformed webhook headers");
  }
  if (Math.abs(now - Number(timestamp)) > TOLERANCE_SECONDS) {
    throw new InvalidWebhookError("webhook-timestamp is outside the tolerance");
  }
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = createHmac("sha256", key)
    .update(`${id}.${timestamp}.`)
    .update(body)
    .digest();
  // Several signatures, space-separated, while a rotated secret's overlap lasts.
  for (const candidate of signatures.split(" ")) {
    const [version, signature] = candidate.split(",", 2);
    const given = Buffer.from(signature ?? "", "base64");
    if (version === "v1" && given.length === expected.length && timingSafeEqual(given, expected)) {
      return;
    }
  }
  throw new InvalidWebhookError("no signature matches the secret");
}
