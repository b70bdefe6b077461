//! Proposition sets for debates: a generated set of checkable claims, and user sets read from JSONL.
//!
//! The generated set ([`generate`]) is a pure function of `(seed, items)`; item `i` depends only on
//! the seed and `i` (one random stream read in order), so a larger set extends a smaller one. Each
//! item's kind is drawn uniformly from [`KINDS`], its intended truth by a fair coin; the claim is
//! then built from random values (the right answer, or a plausible wrong one) and its truth is
//! computed from those values, never written by hand.
//!
//! A user set ([`load_jsonl`]) is a file of JSON lines, one proposition per line:
//! `{"proposition": "Water boils at 100 °C at sea level.", "truth": true, "kind": "science"}`
//! (`kind` is optional, `custom` by default; other fields are ignored; blank lines are skipped).

use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::error::{Error, Result};
use crate::quiz::tasks::number_list;

/// One claim to debate, with its ground truth.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Proposition {
    /// The claim as the debaters and the judge read it.
    pub text: String,
    /// Whether the claim is true.
    pub truth: bool,
    /// What sort of claim it is: one of [`KINDS`] for generated items, free text for user sets.
    pub kind: String,
}

/// The kinds of generated propositions, each with an example.
pub const KINDS: &[(&str, &str)] = &[
    ("addition", "17 + 25 = 42"),
    ("subtraction", "83 - 27 = 56"),
    ("multiplication", "13 × 7 = 91"),
    ("comparison", "38 × 4 is greater than 150"),
    ("letter_count", "The word \"banana\" contains the letter \"a\" exactly 3 times"),
    ("number_count", "There are 4 even numbers in 3, 8, 10, 7, 12, 14"),
    ("ordering", "Sorted from smallest to largest, 41, 7, 23, 15 gives 7, 15, 23, 41"),
    ("syllogism", "If every blicket is a dax and Tom is a blicket, then Tom must be a dax"),
    ("boolean", "The expression (true and false) or not false evaluates to true"),
];

/// The kind given to items of a user file that name none.
pub const DEFAULT_KIND: &str = "custom";

/// The generated set: `items` propositions from `seed`, about half of them true, every kind mixed in.
pub fn generate(seed: u64, items: usize) -> Vec<Proposition> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    (0..items).map(|_| generate_one(&mut rng)).collect()
}

fn generate_one(rng: &mut Xoshiro256PlusPlus) -> Proposition {
    let kind = rng.random_range(0..KINDS.len());
    let want = rng.random_bool(0.5);
    let (text, truth) = match KINDS[kind].0 {
        "addition" => addition(rng, want),
        "subtraction" => subtraction(rng, want),
        "multiplication" => multiplication(rng, want),
        "comparison" => comparison(rng),
        "letter_count" => letter_count(rng, want),
        "number_count" => number_count(rng, want),
        "ordering" => ordering(rng, want),
        "syllogism" => syllogism(rng, want),
        _ => boolean(rng),
    };
    Proposition { text, truth, kind: KINDS[kind].0.to_string() }
}

/// `right`, or (when `want` is false) a plausible wrong answer: off by a small amount, by ten, or
/// by one of `near` (an operand, for products), never negative.
fn claimed(rng: &mut Xoshiro256PlusPlus, right: i64, want: bool, near: &[i64]) -> i64 {
    if want {
        return right;
    }
    const SMALL: [i64; 6] = [1, 2, 3, 9, 10, 11];
    let pick = rng.random_range(0..SMALL.len() + near.len());
    let offset = SMALL.get(pick).copied().unwrap_or_else(|| near[pick - SMALL.len()]);
    if right - offset >= 0 && rng.random_bool(0.5) { right - offset } else { right + offset }
}

fn addition(rng: &mut Xoshiro256PlusPlus, want: bool) -> (String, bool) {
    let (a, b) = (rng.random_range(2..=999i64), rng.random_range(2..=999i64));
    let c = claimed(rng, a + b, want, &[]);
    (format!("{a} + {b} = {c}"), a + b == c)
}

fn subtraction(rng: &mut Xoshiro256PlusPlus, want: bool) -> (String, bool) {
    let a = rng.random_range(10..=999i64);
    let b = rng.random_range(1..a);
    let c = claimed(rng, a - b, want, &[]);
    (format!("{a} - {b} = {c}"), a - b == c)
}

fn multiplication(rng: &mut Xoshiro256PlusPlus, want: bool) -> (String, bool) {
    let (a, b) = (rng.random_range(2..=40i64), rng.random_range(2..=19i64));
    let c = claimed(rng, a * b, want, &[a, b]);
    (format!("{a} × {b} = {c}"), a * b == c)
}

fn comparison(rng: &mut Xoshiro256PlusPlus) -> (String, bool) {
    let (a, b, op) = if rng.random_bool(0.5) {
        (rng.random_range(2..=60i64), rng.random_range(2..=12i64), '×')
    } else {
        (rng.random_range(10..=500i64), rng.random_range(10..=500i64), '+')
    };
    let value = if op == '×' { a * b } else { a + b };
    // A threshold near the value, never equal to it: above or below by 1..=value/5+2.
    let gap = rng.random_range(1..=value / 5 + 2);
    let threshold = if rng.random_bool(0.5) { value + gap } else { (value - gap).max(0) };
    let greater = rng.random_bool(0.5);
    let relation = if greater { "greater" } else { "less" };
    let truth = if greater { value > threshold } else { value < threshold };
    (format!("{a} {op} {b} is {relation} than {threshold}"), truth)
}

pub(crate) const WORDS: &[&str] = &[
    "banana",
    "strawberry",
    "mississippi",
    "committee",
    "bookkeeper",
    "parallel",
    "necessary",
    "occurrence",
    "assessment",
    "millennium",
    "possession",
    "embarrass",
    "accommodate",
    "balloon",
    "coffee",
    "giraffe",
    "hippopotamus",
    "cinnamon",
    "pepper",
    "referee",
    "tattoo",
    "success",
    "address",
    "letter",
    "yellow",
    "puzzle",
    "grammar",
    "rhythm",
    "queue",
    "onomatopoeia",
];

fn times(n: i64) -> String {
    if n == 1 { "exactly 1 time".to_string() } else { format!("exactly {n} times") }
}

fn letter_count(rng: &mut Xoshiro256PlusPlus, want: bool) -> (String, bool) {
    let word = WORDS[rng.random_range(0..WORDS.len())];
    // Mostly a letter of the word (repeated letters are the interesting ones); sometimes any letter.
    let letter = if rng.random_range(0..5) == 0 {
        char::from(b'a' + rng.random_range(0..26u8))
    } else {
        let letters: Vec<char> = word.chars().collect();
        letters[rng.random_range(0..letters.len())]
    };
    let actual = word.chars().filter(|&c| c == letter).count() as i64;
    let said = stated_count(actual, want, rng);
    (format!("The word \"{word}\" contains the letter \"{letter}\" {}", times(said)), actual == said)
}

/// A property of numbers that a count can be about.
#[derive(Clone, Copy)]
enum Property {
    Even,
    Odd,
    MultipleOf3,
    GreaterThan(i64),
}

impl Property {
    fn random(rng: &mut Xoshiro256PlusPlus) -> Property {
        match rng.random_range(0..4) {
            0 => Property::Even,
            1 => Property::Odd,
            2 => Property::MultipleOf3,
            _ => Property::GreaterThan(rng.random_range(10..=40)),
        }
    }

    fn test(self, n: i64) -> bool {
        match self {
            Property::Even => n % 2 == 0,
            Property::Odd => n % 2 != 0,
            Property::MultipleOf3 => n % 3 == 0,
            Property::GreaterThan(k) => n > k,
        }
    }

    /// The noun phrase, singular or plural.
    fn noun(self, plural: bool) -> String {
        let s = if plural { "s" } else { "" };
        match self {
            Property::Even => format!("even number{s}"),
            Property::Odd => format!("odd number{s}"),
            Property::MultipleOf3 => format!("multiple{s} of 3"),
            Property::GreaterThan(k) => format!("number{s} greater than {k}"),
        }
    }
}

fn number_count(rng: &mut Xoshiro256PlusPlus, want: bool) -> (String, bool) {
    let len = rng.random_range(5..=8);
    let numbers: Vec<i64> = (0..len).map(|_| rng.random_range(1..=50)).collect();
    let property = Property::random(rng);
    let actual = numbers.iter().filter(|&&n| property.test(n)).count() as i64;
    let said = stated_count(actual, want, rng);
    let list = join(&numbers);
    let text = if said == 1 {
        format!("There is 1 {} in {list}", property.noun(false))
    } else {
        format!("There are {said} {} in {list}", property.noun(true))
    };
    (text, actual == said)
}

fn join(numbers: &[i64]) -> String {
    numbers.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
}

fn ordering(rng: &mut Xoshiro256PlusPlus, want: bool) -> (String, bool) {
    let len = rng.random_range(4..=6);
    let mut numbers: Vec<i64> = Vec::with_capacity(len);
    while numbers.len() < len {
        let n = rng.random_range(1..=99);
        if !numbers.contains(&n) {
            numbers.push(n);
        }
    }
    let ascending = rng.random_bool(0.5);
    let mut sorted = numbers.clone();
    sorted.sort_unstable();
    if !ascending {
        sorted.reverse();
    }
    let mut said = sorted.clone();
    if !want {
        // A near miss: two neighbours swapped.
        let i = rng.random_range(0..len - 1);
        said.swap(i, i + 1);
    }
    let direction = if ascending { "smallest to largest" } else { "largest to smallest" };
    (format!("Sorted from {direction}, {} gives {}", join(&numbers), join(&said)), said == sorted)
}

const NONSENSE: &[&str] = &["blicket", "dax", "wug", "fep", "toma", "zorp", "glorp", "mib", "tulver", "krent"];
const NAMES: &[&str] = &["Tom", "Ana", "Kofi", "Mei", "Ravi", "Lena", "Omar", "Ines"];

/// `a` or `an`, by the word's first letter.
fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" }
}

/// Whether the conclusion follows from the premises, by checking every world: the individual is in
/// or out of each of the two classes (the universal premise constrains only those memberships).
fn follows(every: bool, fact_class: usize, conclusion_class: usize, conclusion_member: bool) -> bool {
    let worlds = [(false, false), (false, true), (true, false), (true, true)];
    worlds
        .iter()
        .map(|&(in_a, in_b)| [in_a, in_b])
        .filter(|member| if every { !member[0] || member[1] } else { !(member[0] && member[1]) })
        .filter(|member| member[fact_class])
        .all(|member| member[conclusion_class] == conclusion_member)
}

fn syllogism(rng: &mut Xoshiro256PlusPlus, want: bool) -> (String, bool) {
    let a = NONSENSE[rng.random_range(0..NONSENSE.len())];
    let b = loop {
        let b = NONSENSE[rng.random_range(0..NONSENSE.len())];
        if b != a {
            break b;
        }
    };
    let name = NAMES[rng.random_range(0..NAMES.len())];
    let classes = [a, b];
    // "every A is a B" or "no A is a B"; the individual is an A or a B; the conclusion says it
    // must (or cannot) be in the other class. Forms are drawn until the validity matches `want`
    // (3 of the 8 forms are valid), so the kind stays balanced.
    let (every, fact, member) = loop {
        let form = (rng.random_bool(0.5), rng.random_range(0..2), rng.random_bool(0.5));
        if follows(form.0, form.1, 1 - form.1, form.2) == want {
            break form;
        }
    };
    let conclusion = 1 - fact;
    let premise =
        if every { format!("every {a} is {} {b}", article(b)) } else { format!("no {a} is {} {b}", article(b)) };
    let c = classes[conclusion];
    let said = if member {
        format!("{name} must be {} {c}", article(c))
    } else {
        format!("{name} cannot be {} {c}", article(c))
    };
    let f = classes[fact];
    let text = format!("If {premise} and {name} is {} {f}, then {said}", article(f));
    (text, follows(every, fact, conclusion, member))
}

/// A boolean expression tree.
enum Expr {
    Lit(bool),
    Not(Box<Expr>),
    Bin(bool, Box<Expr>, Box<Expr>), // true = and, false = or
}

impl Expr {
    fn random(rng: &mut Xoshiro256PlusPlus, depth: u32) -> Expr {
        let node = if depth == 0 || rng.random_range(0..4) == 0 {
            Expr::Lit(rng.random_bool(0.5))
        } else {
            Expr::Bin(
                rng.random_bool(0.5),
                Box::new(Expr::random(rng, depth - 1)),
                Box::new(Expr::random(rng, depth - 1)),
            )
        };
        if rng.random_range(0..4) == 0 { Expr::Not(Box::new(node)) } else { node }
    }

    fn value(&self) -> bool {
        match self {
            Expr::Lit(v) => *v,
            Expr::Not(e) => !e.value(),
            Expr::Bin(true, l, r) => l.value() && r.value(),
            Expr::Bin(false, l, r) => l.value() || r.value(),
        }
    }

    /// The text; binary operations below the top are parenthesized, so no precedence rule is needed.
    fn text(&self, top: bool) -> String {
        match self {
            Expr::Lit(v) => v.to_string(),
            Expr::Not(e) => format!("not {}", e.text(false)),
            Expr::Bin(and, l, r) => {
                let inner = format!("{} {} {}", l.text(false), if *and { "and" } else { "or" }, r.text(false));
                if top { inner } else { format!("({inner})") }
            }
        }
    }
}

fn boolean(rng: &mut Xoshiro256PlusPlus) -> (String, bool) {
    let expr = loop {
        let e = Expr::random(rng, 2);
        if matches!(e, Expr::Bin(..)) || matches!(&e, Expr::Not(inner) if matches!(**inner, Expr::Bin(..))) {
            break e;
        }
    };
    let said = rng.random_bool(0.5);
    (format!("The expression {} evaluates to {said}", expr.text(true)), expr.value() == said)
}

/// The kinds [`check_claim`] can check: every generated kind.
pub const CHECKABLE_KINDS: &[&str] = &[
    "addition",
    "subtraction",
    "multiplication",
    "comparison",
    "letter_count",
    "number_count",
    "ordering",
    "syllogism",
    "boolean",
];

/// Works out whether a claim written in one of the generated forms ([`KINDS`]) is true, from its
/// text alone: `<expression> = <expression>`, `<expression> is greater/less than <number>` (or
/// `>`, `<`), `The word "w" contains the letter "c" exactly N times`, `There are N even numbers in
/// a, b, c` (odd numbers, multiples of 3, numbers greater than K), `Sorted from smallest to largest, a, b
/// gives b, a`, `If every A is a B and X is an A, then X must be a B` (`no A`, `cannot be`) and
/// `The expression <and/or/not of true and false> evaluates to true`. Returns the truth and the
/// form's kind, or `None` for any other text (a claim the arena cannot check). Case, a final full
/// stop and surrounding spaces do not matter.
pub fn check_claim(claim: &str) -> Option<(bool, &'static str)> {
    let text = claim.trim().trim_end_matches('.').trim().to_lowercase();
    if let Some(rest) = text.strip_prefix("the word ") {
        return check_letter_count(rest).map(|truth| (truth, "letter_count"));
    }
    if let Some(rest) = text.strip_prefix("there are ").or_else(|| text.strip_prefix("there is ")) {
        return check_number_count(rest).map(|truth| (truth, "number_count"));
    }
    if let Some(rest) = text.strip_prefix("sorted from ") {
        return check_ordering(rest).map(|truth| (truth, "ordering"));
    }
    if let Some(rest) = text.strip_prefix("if ") {
        return check_syllogism(rest).map(|truth| (truth, "syllogism"));
    }
    if let Some(rest) = text.strip_prefix("the expression ") {
        let (expression, said) = rest.rsplit_once(" evaluates to ")?;
        let said = match said.trim() {
            "true" => true,
            "false" => false,
            _ => return None,
        };
        return Some((BooleanParser::evaluate(expression)? == said, "boolean"));
    }
    for (relation, greater) in [(" is greater than ", true), (" is less than ", false), (" > ", true), (" < ", false)] {
        if let Some((left, right)) = text.split_once(relation) {
            let value = crate::quiz::tasks::evaluate_expression(left)?;
            let threshold: i64 = right.trim().parse().ok()?;
            return Some((if greater { value > threshold } else { value < threshold }, "comparison"));
        }
    }
    let (left, right) = text.split_once('=')?;
    let (left_value, right_value) =
        (crate::quiz::tasks::evaluate_expression(left)?, crate::quiz::tasks::evaluate_expression(right)?);
    let kind = if left.contains(['×', '*', 'x']) {
        "multiplication"
    } else if left.contains('-') && !left.contains('+') {
        "subtraction"
    } else if left.contains('+') {
        "addition"
    } else {
        return None;
    };
    Some((left_value == right_value, kind))
}

/// `"w" contains the letter "c" exactly N time(s)`.
fn check_letter_count(rest: &str) -> Option<bool> {
    let parts: Vec<&str> = rest.split('"').collect();
    if parts.len() != 5 || !parts[0].is_empty() || parts[2].trim() != "contains the letter" {
        return None;
    }
    let (word, letter) = (parts[1], parts[3]);
    if word.is_empty() || !word.chars().all(char::is_alphabetic) || letter.chars().count() != 1 {
        return None;
    }
    let count = parts[4].trim().strip_prefix("exactly ")?;
    let said: usize = count.strip_suffix(" times").or_else(|| count.strip_suffix(" time"))?.trim().parse().ok()?;
    Some(word.matches(letter).count() == said)
}

/// `N <property> in a, b, c`.
fn check_number_count(rest: &str) -> Option<bool> {
    let (said, rest) = rest.split_once(' ')?;
    let said: usize = said.parse().ok()?;
    let (noun, list) = rest.split_once(" in ")?;
    let numbers = number_list(list)?;
    let noun = noun.trim();
    let property = match noun {
        "even number" | "even numbers" => Property::Even,
        "odd number" | "odd numbers" => Property::Odd,
        "multiple of 3" | "multiples of 3" => Property::MultipleOf3,
        _ => {
            let bound =
                noun.strip_prefix("numbers greater than ").or_else(|| noun.strip_prefix("number greater than "))?;
            Property::GreaterThan(bound.trim().parse().ok()?)
        }
    };
    Some(numbers.iter().filter(|&&n| property.test(n)).count() == said)
}

/// `smallest to largest, a, b, c gives c, b, a` (or largest to smallest).
fn check_ordering(rest: &str) -> Option<bool> {
    let (ascending, rest) = if let Some(rest) = rest.strip_prefix("smallest to largest,") {
        (true, rest)
    } else {
        (false, rest.strip_prefix("largest to smallest,")?)
    };
    let (numbers, said) = rest.split_once(" gives ")?;
    let mut sorted = number_list(numbers)?;
    let said = number_list(said)?;
    sorted.sort_unstable();
    if !ascending {
        sorted.reverse();
    }
    Some(said == sorted)
}

/// `every A is a B and X is an A, then X must be a B` (`no A is a B`; `cannot be`).
fn check_syllogism(rest: &str) -> Option<bool> {
    let (premises, conclusion) = rest.split_once(", then ")?;
    let (premise, fact) = premises.split_once(" and ")?;
    let (every, premise) = match premise.strip_prefix("every ") {
        Some(premise) => (true, premise),
        None => (false, premise.strip_prefix("no ")?),
    };
    let (a, b) = premise.split_once(" is ")?;
    let b = without_article(b)?;
    let classes = [a.trim(), b];
    let (name, fact_class) = fact.split_once(" is ")?;
    let fact_noun = without_article(fact_class)?;
    let fact_class = classes.iter().position(|&c| c == fact_noun)?;
    let (member, conclusion_class) =
        if let Some(class) = conclusion.strip_prefix(name).and_then(|r| r.strip_prefix(" must be ")) {
            (true, class)
        } else {
            (false, conclusion.strip_prefix(name)?.strip_prefix(" cannot be ")?)
        };
    let conclusion_noun = without_article(conclusion_class)?;
    let conclusion_class = classes.iter().position(|&c| c == conclusion_noun)?;
    if classes[0] == classes[1] || classes.iter().any(|c| c.is_empty() || c.contains(' ')) {
        return None;
    }
    Some(follows(every, fact_class, conclusion_class, member))
}

/// `a wug` or `an elf`: the noun.
fn without_article(text: &str) -> Option<&str> {
    let text = text.trim();
    text.strip_prefix("a ").or_else(|| text.strip_prefix("an ")).map(str::trim)
}

/// `true`, `false`, `not`, `and`, `or` and parentheses; `not` binds tightest, then `and`.
struct BooleanParser {
    tokens: Vec<String>,
    at: usize,
}

impl BooleanParser {
    fn evaluate(text: &str) -> Option<bool> {
        let spaced = text.replace('(', " ( ").replace(')', " ) ");
        let tokens: Vec<String> = spaced.split_whitespace().map(str::to_string).collect();
        if tokens.len() > 60 {
            return None;
        }
        let mut parser = BooleanParser { tokens, at: 0 };
        let value = parser.or()?;
        (parser.at == parser.tokens.len()).then_some(value)
    }

    fn next_is(&self, word: &str) -> bool {
        self.tokens.get(self.at).is_some_and(|t| t == word)
    }

    fn or(&mut self) -> Option<bool> {
        let mut value = self.and()?;
        while self.next_is("or") {
            self.at += 1;
            let right = self.and()?;
            value = value || right;
        }
        Some(value)
    }

    fn and(&mut self) -> Option<bool> {
        let mut value = self.not()?;
        while self.next_is("and") {
            self.at += 1;
            let right = self.not()?;
            value = value && right;
        }
        Some(value)
    }

    fn not(&mut self) -> Option<bool> {
        if self.next_is("not") {
            self.at += 1;
            return self.not().map(|v| !v);
        }
        let token = self.tokens.get(self.at)?.clone();
        self.at += 1;
        match token.as_str() {
            "true" => Some(true),
            "false" => Some(false),
            "(" => {
                let value = self.or()?;
                self.next_is(")").then(|| self.at += 1)?;
                Some(value)
            }
            _ => None,
        }
    }
}

/// Reads a user set from a JSONL file. Errors name the file, the line and the problem.
pub fn load_jsonl(path: impl AsRef<Path>) -> Result<Vec<Proposition>> {
    let example = "{\"proposition\": \"2 + 2 = 4\", \"truth\": true}";
    read_item_file(
        path.as_ref(),
        ItemFile { game: "debate", param: "propositions", items: "propositions", example },
        parse_line,
    )
}

/// What a file of items (one JSON object per line) is, for its error messages.
pub(crate) struct ItemFile {
    pub game: &'static str,
    pub param: &'static str,
    /// What the items are called: `propositions`, `tasks`.
    pub items: &'static str,
    /// A line as it should be.
    pub example: &'static str,
}

/// Reads a file of items, one JSON object per line (blank lines skipped), at least one and at
/// most `u32::MAX`; errors name the file, the line and the problem.
pub(crate) fn read_item_file<T>(
    path: &Path,
    file: ItemFile,
    parse_line: impl Fn(&str) -> std::result::Result<T, String>,
) -> Result<Vec<T>> {
    let shown = path.display().to_string();
    let bad = |reason: String| Error::BadParameter {
        owner: format!("game `{}`", file.game),
        param: file.param.to_string(),
        value: shown.clone(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read the file {shown}: {e}")))?;
    let mut set = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let item = parse_line(line).map_err(|problem| {
            bad(format!(
                "{shown} line {}: {problem} (each line is an object such as {}, with an optional \"kind\")",
                index + 1,
                file.example
            ))
        })?;
        set.push(item);
    }
    let items = file.items;
    if set.is_empty() {
        return Err(bad(format!("{shown} has no {items}: expected one JSON object per line")));
    }
    if u32::try_from(set.len()).is_err() {
        return Err(bad(format!("{shown} has {} {items}; at most {} are supported", set.len(), u32::MAX)));
    }
    Ok(set)
}

fn parse_line(line: &str) -> std::result::Result<Proposition, String> {
    let value: serde_json::Value = serde_json::from_str(line).map_err(|e| format!("bad JSON: {e}"))?;
    let Some(object) = value.as_object() else {
        return Err(format!("expected a JSON object, found `{}`", preview(line)));
    };
    let text = match object.get("proposition") {
        None => return Err("missing field \"proposition\"".to_string()),
        Some(serde_json::Value::String(s)) if s.trim().is_empty() => return Err("the proposition is empty".to_string()),
        Some(serde_json::Value::String(s)) => s.trim().to_string(),
        Some(other) => return Err(format!("\"proposition\" must be a string, found {other}")),
    };
    let truth = match object.get("truth") {
        None => return Err("missing field \"truth\"".to_string()),
        Some(serde_json::Value::Bool(b)) => *b,
        Some(other) => return Err(format!("\"truth\" must be true or false (a JSON boolean), found {other}")),
    };
    let kind = match object.get("kind") {
        None | Some(serde_json::Value::Null) => DEFAULT_KIND.to_string(),
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
        Some(other) => return Err(format!("\"kind\" must be a non-empty string, found {other}")),
    };
    Ok(Proposition { text, truth, kind })
}

/// The start of a long text, for error messages.
pub(crate) fn preview(text: &str) -> String {
    const LIMIT: usize = 80;
    if text.chars().count() <= LIMIT {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(LIMIT).collect::<String>())
    }
}

/// The count a proposition states: the actual one when it should be true, else one off (never
/// below zero).
fn stated_count(actual: i64, want: bool, rng: &mut Xoshiro256PlusPlus) -> i64 {
    if want {
        actual
    } else if actual == 0 || rng.random_bool(0.5) {
        actual + 1
    } else {
        actual - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syllogism_validity_by_worlds() {
        // every A is B, x is A: x must be B (valid), x cannot be B (invalid).
        assert!(follows(true, 0, 1, true));
        assert!(!follows(true, 0, 1, false));
        // every A is B, x is B: nothing follows about A.
        assert!(!follows(true, 1, 0, true));
        assert!(!follows(true, 1, 0, false));
        // no A is B, x is A: x cannot be B; x is B: x cannot be A.
        assert!(follows(false, 0, 1, false));
        assert!(!follows(false, 0, 1, true));
        assert!(follows(false, 1, 0, false));
        assert!(!follows(false, 1, 0, true));
    }

    #[test]
    fn boolean_texts_parenthesize_nested_operations() {
        let e = Expr::Bin(
            false,
            Box::new(Expr::Bin(true, Box::new(Expr::Lit(true)), Box::new(Expr::Lit(false)))),
            Box::new(Expr::Not(Box::new(Expr::Lit(false)))),
        );
        assert_eq!(e.text(true), "(true and false) or not false");
        assert!(e.value());
    }

    #[test]
    fn the_checker_finds_the_truth_of_every_generated_proposition() {
        let set = generate(11, 3000);
        for proposition in &set {
            let checked = check_claim(&proposition.text);
            assert_eq!(
                checked,
                Some((
                    proposition.truth,
                    CHECKABLE_KINDS.iter().find(|k| **k == proposition.kind).copied().unwrap_or("?")
                )),
                "{}",
                proposition.text
            );
        }
        for kind in CHECKABLE_KINDS {
            assert!(set.iter().any(|p| p.kind == *kind), "no {kind} in the set");
        }
    }

    #[test]
    fn claims_are_checked_from_their_text_alone() {
        let cases = [
            ("12 + 30 = 42.", Some((true, "addition"))),
            ("(3 + 4) × 2 = 15", Some((false, "multiplication"))),
            ("90 - 45 = 45", Some((true, "subtraction"))),
            ("7 * 8 is greater than 50", Some((true, "comparison"))),
            ("38 × 4 > 150", Some((true, "comparison"))),
            ("9 + 9 < 17", Some((false, "comparison"))),
            ("The word \"letter\" contains the letter \"t\" exactly 2 times", Some((true, "letter_count"))),
            ("There is 1 multiple of 3 in 4, 9, 10", Some((true, "number_count"))),
            ("There are 3 numbers greater than 20 in 25, 30, 10, 21", Some((true, "number_count"))),
            ("Sorted from largest to smallest, 3, 9, 5 gives 9, 3, 5", Some((false, "ordering"))),
            ("If no wug is a dax and Mei is a wug, then Mei cannot be a dax", Some((true, "syllogism"))),
            ("The expression not (false or false) and true evaluates to true", Some((true, "boolean"))),
            ("The sky is blue", None),
            ("42 = 42", None),
            ("The word \"tree house\" contains the letter \"e\" exactly 3 times", None),
            ("The expression true and evaluates to true", None),
            ("If every wug is a wug and Tom is a wug, then Tom must be a wug", None),
        ];
        for (claim, expected) in cases {
            assert_eq!(check_claim(claim), expected, "{claim}");
        }
    }
}
