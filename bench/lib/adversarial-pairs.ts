// The adversarial pairs of bench/eval-cache.ts: near-identical prompts that want different answers.
export type Kind = "numbers" | "languages" | "negations" | "identifiers" | "units" | "quotes";

/** "a/b c/d" -> [["a", "b"], ["c", "d"]]: the word lists below read better on one line. */
function slashPairs(text: string): [string, string][] {
  return text.split(" ").map((pair) => pair.split("/") as [string, string]);
}

/** Pairs [kind, stored prompt, asked prompt], each a small edit that changes the answer. */
export function adversarialPairs(): [Kind, string, string][] {
  const pairs: [Kind, string, string][] = [];
  const add = (kind: Kind, templates: ((x: string) => string)[], swaps: [string, string][]) => {
    for (const t of templates) for (const [x, y] of swaps) pairs.push([kind, t(x), t(y)]);
  };
  add(
    "numbers",
    [
      (x) => `What is 15% of ${x}?`,
      (x) => `How many calories do I burn walking ${x} km a day?`,
      (x) => `Is a ${x} year old too old to start learning the piano?`,
      (x) => `What was the population of France in ${x}?`,
      (x) => `Write a Python function that returns the first ${x} prime numbers.`,
      (x) => `What are the new features in Python 3.${x}?`,
    ],
    slashPairs("12/13 80/90 10/100 1.5/2.5 1990/1999"),
  );
  for (const [x, y] of slashPairs("7/3 10/2 1024/768 5/9 31/13")) {
    // Same numbers, swapped order.
    pairs.push(["numbers", `Is ${x} divisible by ${y}?`, `Is ${y} divisible by ${x}?`]);
    pairs.push(["numbers", `Divide ${x} by ${y} and round the result.`, `Divide ${y} by ${x} and round the result.`]);
  }
  const languageTasks = [
    "How do I reverse a string in",
    "What is the fastest way to sort a list in",
    "Write a hello world program in",
    "How do I read a file line by line in",
    "How does memory management work in",
    "What is the best IDE for",
    "How do I start a thread in",
    "Show me how to parse JSON in",
    "How do I connect to a PostgreSQL database from",
    "What are the most common interview questions about",
  ];
  add(
    "languages",
    languageTasks.map((task) => (x: string) => `${task} ${x}?`),
    slashPairs("C/C++ C/C# C/F# C++/C# C++/F# C#/F#"),
  );
  const negations = [
    "Is it safe to eat raw eggs? | Is it not safe to eat raw eggs?",
    "Why can I sleep at night? | Why can't I sleep at night?",
    "How do I make bread with yeast? | How do I make bread without yeast?",
    "Should I use a VPN on public wifi? | Should I never use a VPN on public wifi?",
    "Does coffee dehydrate you? | Doesn't coffee dehydrate you?",
    "Which fruits contain vitamin C? | Which fruits contain no vitamin C?",
    "Why do cats like water? | Why don't cats like water?",
    "Is it a good idea to invest in bonds now? | Is it not a good idea to invest in bonds now?",
    "List countries that use the euro. | List countries that do not use the euro.",
    "How do I cook rice with a rice cooker? | How do I cook rice without a rice cooker?",
    "Why does my code compile? | Why doesn't my code compile?",
    "Can dogs eat grapes? | Can't dogs eat grapes?",
    "Write a cover letter that mentions my salary. | Write a cover letter that never mentions my salary.",
    "Is zero a natural number? | Is zero not a natural number?",
    "Explain why the sky is blue. | Explain why the sky is not blue.",
  ];
  for (const line of negations) pairs.push(["negations", ...(line.split(" | ") as [string, string])]);
  add(
    "identifiers",
    [
      (x) => `What does ${x} return when the input is empty?`,
      (x) => `Why is \`${x}\` slow in my code?`,
      (x) => `Write unit tests for ${x}.`,
      (x) => `Rename ${x} in the whole project.`,
    ],
    slashPairs(
      "getUserById/getUsersById fetchOrders/fetchOrder user_id/user_ids os.path.join/os.path.split " +
        "useEffect/useLayoutEffect Array.prototype.map/Array.prototype.flatMap parseInt/parseFloat " +
        "max_retries/max_attempts np.mean/np.median setTimeout/setInterval",
    ),
  );
  const unitSwaps = slashPairs("kg/lb km/miles °C/°F GB/MB ml/liters minutes/hours meters/feet USD/EUR");
  add(
    "units",
    [
      (x) => `Convert 25 ${x} to grams or ounces.`,
      (x) => `Is 40 ${x} a lot?`,
      (x) => `My suitcase weighs 23 ${x}, is that allowed?`,
    ],
    unitSwaps,
  );
  for (const [x, y] of unitSwaps) {
    pairs.push(["units", `How do I convert ${x} to ${y} in Excel?`, `How do I convert ${y} to ${x} in Excel?`]);
  }
  add(
    "quotes",
    [(x) => `What does "${x}" mean?`, (x) => `Translate '${x}' into Spanish.`, (x) => `Search my notes for "${x}".`],
    [
      ["carpe diem", "carpe noctem"],
      ["good morning", "good night"],
      ["Hello, World", "Hello World!"],
      ["break a leg", "break the ice"],
      ["SELECT * FROM users", "SELECT * FROM orders"],
      ["ls -la", "ls -lh"],
      ["error: ENOENT", "error: EACCES"],
      ["to be or not to be", "to be and not to be"],
    ],
  );
  return pairs;
}
