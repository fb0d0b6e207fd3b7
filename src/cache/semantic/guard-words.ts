// The word lists behind the guards (guards.ts), kept as plain text so that they read as lists.

/** Each line: the canonical unit, then other spellings of it. */
const UNIT_LINES = [
  "kg kgs kilo kilos kilogram kilograms",
  "g gram grams",
  "mg milligram milligrams",
  "lb lbs pound pounds",
  "oz ounce ounces",
  "km kilometer kilometers kilometre kilometres",
  "m meter meters metre metres",
  "cm centimeter centimeters centimetre centimetres",
  "mm millimeter millimeters millimetre millimetres",
  "mi mile miles",
  "ft foot feet",
  "inch inches",
  "yd yard yards",
  "l liter liters litre litres",
  "ml milliliter milliliters millilitre millilitres",
  "gal gallon gallons",
  "c celsius",
  "f fahrenheit",
  "k kelvin",
  "mph",
  "km/h kmh kph",
  "ms millisecond milliseconds",
  "s sec secs second seconds",
  "min mins minute minutes",
  "h hr hrs hour hours",
  "day days",
  "week weeks",
  "month months",
  "year years",
  "b byte bytes",
  "kb kilobyte kilobytes",
  "mb megabyte megabytes",
  "gb gigabyte gigabytes",
  "tb terabyte terabytes",
  "bit bits",
  "hz hertz",
  "khz",
  "mhz",
  "ghz",
  "w watt watts",
  "kw kilowatt kilowatts",
  "kwh",
  "v volt volts",
  "% percent",
  "usd dollar dollars",
  "eur euro euros",
  "gbp",
  "inr rupee rupees",
  "jpy yen",
  "st",
  "nd",
  "rd",
  "th",
];

/** Spelling -> canonical unit: "kilograms" -> "kg". */
export const UNIT_ALIASES: ReadonlyMap<string, string> = new Map(
  UNIT_LINES.flatMap((line) => {
    const [canonical, ...others] = line.split(" ") as [string, ...string[]];
    return [canonical, ...others].map((spelling) => [spelling, canonical] as const);
  }),
);

/** Units that are also common words count only right after a number ("5 m" yes, "a bit" no). */
export const AMBIGUOUS_UNITS: ReadonlySet<string> = new Set(
  "m s g l c f k h b v w mi min second bit bits st nd rd th".split(" "),
);

export const CURRENCY_SIGNS: ReadonlySet<string> = new Set(["$", "€", "£", "¥", "₹"]);

/** "one" is left out: "which one" and "no one" are not numbers. */
export const NUMBER_WORDS: ReadonlyMap<string, string> = new Map(
  (
    "two 2 three 3 four 4 five 5 six 6 seven 7 eight 8 nine 9 ten 10 eleven 11 twelve 12 thirteen 13 " +
    "fourteen 14 fifteen 15 sixteen 16 seventeen 17 eighteen 18 nineteen 19 twenty 20 thirty 30 forty 40 " +
    "fifty 50 sixty 60 seventy 70 eighty 80 ninety 90 hundred 100 thousand 1000 million 1000000 " +
    "billion 1000000000 dozen 12"
  )
    .split(" ")
    .flatMap((word, i, all) => (i % 2 === 0 ? [[word, all[i + 1] as string] as const] : [])),
);

/** Contractions in n't are found by their ending; these are the rest, apostrophes dropped included. */
export const NEGATIONS: ReadonlySet<string> = new Set(
  (
    "not no never none nobody nothing nowhere neither nor without cannot cant dont doesnt didnt isnt arent " +
    "wasnt werent wont wouldnt shouldnt couldnt hasnt havent hadnt aint mustnt neednt"
  ).split(" "),
);
