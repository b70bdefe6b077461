//! `human`: a person at the terminal plays a seat. Before each move it shows the opponent's moves
//! since the person's last turn, the position as the game renders it for that seat, and the legal
//! moves; it reads a move (asked again, with the engine's reason, after an illegal or unreadable
//! one), or at text turns (a debater's speech, a judge's reasoning) lines up to one holding only
//! `.`. `undo` is refused: every game is rated. End of input (Ctrl-D) or `resign` forfeits.
//!
//! `human(via=web)` is a person on `arena serve`'s judge page instead: the agent answers no move
//! itself, and the match waits in the store, as it stands, for the person's decision.

use std::io::{BufRead, BufReader, Write};

use games::{Action, GameRef, InputKind, Player, Turn};

use crate::agent::{Agent, AgentError, AgentRng, Decision, View};

/// The agent's name in specs.
pub const HUMAN: &str = "human";
/// `human`'s parameters: where the person answers.
pub const HUMAN_PARAMS: &[games::ParamDef] = &[games::ParamDef {
    name: "via",
    kind: games::ParamKind::Text,
    default: "terminal",
    doc: "`terminal`: this process's terminal; `web`: the match waits in the store for the person's decision on `arena serve` (a debate's judge seat)",
}];

/// Where a person answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    /// At this process's terminal, during the match.
    Terminal,
    /// On `arena serve`'s pages, later: the match waits in the store.
    Web,
}

/// Where the person of a `human` agent spec answers; `None` for any other agent.
pub fn person_channel(config: &crate::AgentConfig) -> Option<Channel> {
    if config.name() != HUMAN {
        return None;
    }
    let spec = games::Spec::parse(&config.to_string()).ok()?;
    Some(if spec.get("via") == Some("web") { Channel::Web } else { Channel::Terminal })
}

/// Where `human(via=...)` answers, or the error naming a bad `via`.
fn channel_of(params: &games::Params) -> Result<Channel, crate::registry::Error> {
    match params.text("via") {
        "terminal" => Ok(Channel::Terminal),
        "web" => Ok(Channel::Web),
        other => Err(games::Error::BadParameter {
            owner: format!("agent `{HUMAN}`"),
            param: "via".to_string(),
            value: other.to_string(),
            reason: "expected `terminal` or `web`".to_string(),
        }
        .into()),
    }
}

/// Checks `human`'s parameters (as when building it).
pub(crate) fn check_via(params: &games::Params) -> Result<(), crate::registry::Error> {
    channel_of(params).map(|_| ())
}

/// Builds `human(via=...)`.
pub(crate) fn create_human_agent(params: &games::Params) -> Result<Box<dyn Agent>, crate::registry::Error> {
    Ok(match channel_of(params)? {
        Channel::Terminal => Box::new(HumanAgent::terminal()),
        Channel::Web => Box::new(WebPerson),
    })
}

/// A person on the web: every decision is awaited, so the match is stored as it stands.
#[derive(Debug)]
struct WebPerson;

impl Agent for WebPerson {
    fn check_seat(&self, game: &dyn games::Game, player: Player) -> Result<(), AgentError> {
        // The judge page shows the transcript and takes a verdict: a choice among moves.
        if game.seat_input(player) != InputKind::Discrete {
            return Err(AgentError::NotSupported(format!(
                "a person on the web gives verdicts (a choice of moves); seat {player} of {} writes text",
                game.spec()
            )));
        }
        Ok(())
    }

    fn act(&mut self, _view: &View<'_>, _rng: &mut AgentRng) -> Result<Decision, AgentError> {
        Err(AgentError::Awaited("a person's decision on `arena serve` (page /judge)".to_string()))
    }
}
/// Rejected answers a person may give before the game is lost: enough never to matter.
const RETRIES: usize = 1000;
/// The most legal moves listed at once (a long list is summarized).
const LISTED_MOVES: usize = 60;

/// A person answering through a text stream (the terminal: standard input, prompts on standard
/// error so that standard output keeps only results).
pub struct HumanAgent {
    input: Box<dyn BufRead + Send>,
    output: Box<dyn Write + Send>,
    seat: Player,
    /// Moves since this player's last turn: who moved, and the move's name where it is public.
    since_last_turn: Vec<(Turn, Option<Action>)>,
}

impl std::fmt::Debug for HumanAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HumanAgent").field("seat", &self.seat).finish()
    }
}

impl HumanAgent {
    /// A person at this process's terminal.
    pub fn terminal() -> Self {
        HumanAgent::new(Box::new(BufReader::new(std::io::stdin())), Box::new(std::io::stderr()))
    }

    /// A person reading `output` and typing into `input`.
    pub fn new(input: Box<dyn BufRead + Send>, output: Box<dyn Write + Send>) -> Self {
        HumanAgent { input, output, seat: 0, since_last_turn: Vec::new() }
    }

    /// One line typed, without its line ending; `None` at the end of input.
    fn read_line(&mut self) -> Result<Option<String>, AgentError> {
        let mut line = String::new();
        match self.input.read_line(&mut line) {
            Ok(0) => Ok(None),
            Ok(_) => Ok(Some(line.trim_end_matches(['\n', '\r']).to_string())),
            Err(e) => Err(AgentError::Garbled(format!("cannot read the player's input: {e}"))),
        }
    }

    fn say(&mut self, text: &str) -> Result<(), AgentError> {
        self.output
            .write_all(text.as_bytes())
            .and_then(|()| self.output.flush())
            .map_err(|e| AgentError::Crashed(format!("cannot show the game to the player: {e}")))
    }

    fn left() -> AgentError {
        AgentError::Resigned("the player left (end of input)".to_string())
    }

    /// The legal moves by name, the list cut short when long.
    fn moves_line(view: &View<'_>) -> String {
        let legal = view.legal_actions();
        let names: Vec<String> = legal.iter().take(LISTED_MOVES).map(|&a| view.action_to_string(a)).collect();
        let more = legal.len().saturating_sub(LISTED_MOVES);
        let tail = if more > 0 { format!(" … and {more} more") } else { String::new() };
        format!("Legal moves: {}{tail}\n", names.join(" "))
    }

    fn read_move(&mut self, view: &View<'_>) -> Result<Decision, AgentError> {
        loop {
            self.say("Your move (`moves` lists them, `resign` gives up): ")?;
            let Some(line) = self.read_line()? else { return Err(Self::left()) };
            let typed = line.trim();
            match typed {
                "" => continue,
                "undo" | "takeback" => self.say("Undo is not allowed: every game here is rated.\n")?,
                "moves" | "help" | "?" => {
                    let moves = Self::moves_line(view);
                    self.say(&moves)?;
                }
                "resign" => return Err(AgentError::Resigned("the player resigned".to_string())),
                // The engine reads it with the game's own parser, and quotes back its reason for
                // refusing it (the next call's feedback).
                _ => return Ok(Decision::text(typed)),
            }
        }
    }

    fn read_text(&mut self) -> Result<Decision, AgentError> {
        self.say("Write your answer; end it with a line holding only `.`:\n")?;
        let mut lines = Vec::new();
        loop {
            let Some(line) = self.read_line()? else { return Err(Self::left()) };
            if line.trim() == "." {
                return Ok(Decision::text(lines.join("\n")));
            }
            lines.push(line);
        }
    }
}

impl Agent for HumanAgent {
    fn start(&mut self, game: &GameRef, player: Player) -> Result<(), AgentError> {
        self.seat = player;
        self.since_last_turn.clear();
        self.say(&format!("\n=== A new game of {}: you play seat {player} ===\n", game.spec()))
    }

    fn act(&mut self, view: &View<'_>, _rng: &mut AgentRng) -> Result<Decision, AgentError> {
        let mut shown = String::new();
        match view.feedback() {
            Some(reason) => shown.push_str(&format!("Not accepted: {reason}\n")),
            None => {
                for (actor, action) in std::mem::take(&mut self.since_last_turn) {
                    let name = action.map_or_else(|| "a hidden move".to_string(), |a| view.action_to_string(a));
                    match actor {
                        Turn::Player(p) if p == self.seat => {}
                        Turn::Player(p) => shown.push_str(&format!("Seat {p} played {name}.\n")),
                        Turn::Chance => shown.push_str(&format!("Chance: {name}.\n")),
                        Turn::Terminal => {}
                    }
                }
                shown.push('\n');
                shown.push_str(view.observation_string().trim_end());
                shown.push('\n');
                if view.input_kind() == InputKind::Discrete {
                    shown.push_str(&Self::moves_line(view));
                }
            }
        }
        self.say(&shown)?;
        match view.input_kind() {
            InputKind::Discrete => self.read_move(view),
            InputKind::Text => self.read_text(),
        }
    }

    fn observes_moves(&self) -> bool {
        true
    }

    fn observe(&mut self, actor: Turn, action: Option<Action>) {
        self.since_last_turn.push((actor, action));
    }

    fn finish(&mut self, returns: &[f64]) {
        let score = returns.get(self.seat).copied().unwrap_or(0.0);
        let verdict = match score {
            s if s > 0.0 => "you won",
            s if s < 0.0 => "you lost",
            _ => "a draw",
        };
        // Nothing to do if the terminal is gone: the result is recorded by the engine anyway.
        let _ = self.say(&format!("=== Game over: {verdict} (your return {score}) ===\n"));
    }

    fn retries(&self) -> usize {
        RETRIES
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Output a test can read after the agent wrote it.
    #[derive(Clone, Default)]
    struct Screen(Arc<Mutex<Vec<u8>>>);

    impl Write for Screen {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Screen {
        fn text(&self) -> String {
            self.0.lock().map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default()
        }
    }

    fn agent(typed: &str) -> (HumanAgent, Screen) {
        let screen = Screen::default();
        let input = std::io::Cursor::new(typed.as_bytes().to_vec());
        (HumanAgent::new(Box::new(input), Box::new(screen.clone())), screen)
    }

    fn ok<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
        result.unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_person_sees_the_position_and_moves_and_undo_is_refused() {
        use rand::SeedableRng;
        let game = ok(games::Registry::default().load("tic_tac_toe"));
        let mut state = game.new_initial_state();
        let (mut human, screen) = agent("\nundo\nmoves\nb2\n");
        ok(human.start(&game, 1));
        human.observe(Turn::Player(0), Some(0));
        ok(state.apply(0));
        let mut legal = Vec::new();
        state.legal_actions(&mut legal);
        let view = View::new(game.as_ref(), state.as_ref(), 1, &legal);
        let mut rng = AgentRng::seed_from_u64(0);
        assert_eq!(ok(human.act(&view, &mut rng)), Decision::text("b2"));
        let text = screen.text();
        assert!(text.contains(&format!("Seat 0 played {}.", state.action_to_string(0))), "{text}");
        assert!(text.contains("You play O") && text.contains("Legal moves:"), "{text}");
        assert!(text.contains("Undo is not allowed"), "{text}");
        // An answer the engine refused is quoted back, and the person asked again.
        let (mut human, screen) = agent("c3\n");
        let view = view.with_feedback(Some("a1 is taken"));
        assert_eq!(ok(human.act(&view, &mut rng)), Decision::text("c3"));
        assert!(screen.text().starts_with("Not accepted: a1 is taken"), "{}", screen.text());
        // End of input is a forfeit.
        let (mut human, _) = agent("");
        assert!(matches!(human.act(&view, &mut rng), Err(AgentError::Resigned(_))));
    }

    #[test]
    fn text_turns_take_lines_up_to_a_lone_dot() {
        use rand::SeedableRng;
        let game = ok(games::Registry::default().load("debate(rounds=1)"));
        let mut state = game.new_initial_state();
        while let Turn::Chance = state.turn() {
            let mut outcomes = Vec::new();
            state.chance_outcomes(&mut outcomes);
            ok(state.apply(outcomes[0].0));
        }
        let Turn::Player(player) = state.turn() else { panic!("a debater is to speak") };
        let mut legal = Vec::new();
        state.legal_actions(&mut legal);
        let view = View::new(game.as_ref(), state.as_ref(), player, &legal);
        let (mut human, screen) = agent("It is true.\nBecause of this.\n.\n");
        let mut rng = AgentRng::seed_from_u64(0);
        assert_eq!(ok(human.act(&view, &mut rng)), Decision::text("It is true.\nBecause of this."));
        assert!(screen.text().contains("a line holding only `.`"), "{}", screen.text());
    }
}
