import type { BUDGET_PERIODS } from "./definition.js";

export type BudgetPeriod = (typeof BUDGET_PERIODS)[number];

/** One period's bucket: spend resets because the label (part of every counter key) changes at endMs. */
export interface PeriodBucket {
  label: string;
  startMs: number;
  /** Next bucket's start; undefined for "total", which never resets. */
  endMs: number | undefined;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(timeZone, f);
  }
  return f;
}

interface LocalTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

function localTime(ms: number, timeZone: string): LocalTime {
  const t: LocalTime = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  for (const part of formatter(timeZone).formatToParts(ms)) {
    if (part.type in t) t[part.type as keyof LocalTime] = Number(part.value);
  }
  return t;
}

/** The zone's offset from UTC at instant ms, in ms (positive east of Greenwich). */
export function offsetAt(ms: number, timeZone: string): number {
  const t = localTime(ms, timeZone);
  const asUtc = Date.UTC(t.year, t.month - 1, t.day, t.hour, t.minute, t.second);
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/** The instant of local midnight starting y-m-d (m 1-based, may overflow: Date.UTC normalises it). */
export function zonedMidnight(year: number, month: number, day: number, timeZone: string): number {
  const wall = Date.UTC(year, month - 1, day);
  const first = wall - offsetAt(wall, timeZone);
  // Second pass: the offset at the real instant differs from the guess's when a DST change lies between them.
  return wall - offsetAt(first, timeZone);
}

function ymd(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** The bucket `nowMs` falls in for a period aligned to the IANA `timeZone`. */
export function periodBucket(period: BudgetPeriod, timeZone: string, nowMs: number): PeriodBucket {
  if (period === "total") return { label: "total", startMs: 0, endMs: undefined };
  const t = localTime(nowMs, timeZone);
  if (period === "daily") {
    return {
      label: ymd(Date.UTC(t.year, t.month - 1, t.day)),
      startMs: zonedMidnight(t.year, t.month, t.day, timeZone),
      endMs: zonedMidnight(t.year, t.month, t.day + 1, timeZone),
    };
  }
  if (period === "weekly") {
    // ISO weeks start on Monday; the label is that Monday's local date.
    const sinceMonday = (new Date(Date.UTC(t.year, t.month - 1, t.day)).getUTCDay() + 6) % 7;
    const monday = t.day - sinceMonday;
    return {
      label: ymd(Date.UTC(t.year, t.month - 1, monday)),
      startMs: zonedMidnight(t.year, t.month, monday, timeZone),
      endMs: zonedMidnight(t.year, t.month, monday + 7, timeZone),
    };
  }
  return {
    label: ymd(Date.UTC(t.year, t.month - 1, 1)).slice(0, 7),
    startMs: zonedMidnight(t.year, t.month, 1, timeZone),
    endMs: zonedMidnight(t.year, t.month + 1, 1, timeZone),
  };
}

/** Throws a RangeError for a time zone Intl does not know (validate config with it). */
export function assertTimeZone(timeZone: string): void {
  formatter(timeZone);
}
