import { pino } from "pino";

export type Logger = pino.Logger;

/** One JSON line per event on stdout, written asynchronously so logging never blocks a request. */
export function createLogger(level: string, destination: pino.DestinationStream = pino.destination({ sync: false })) {
  return pino(
    {
      level,
      base: { service: "tollgate" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // Defence in depth: nothing should log these, and if something does they come out masked.
      redact: {
        paths: ["api_key", "*.api_key", "authorization", "*.authorization", "headers.authorization"],
        censor: "[redacted]",
      },
    },
    destination,
  );
}
