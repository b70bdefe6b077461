//! The play and judge pages: a person plays a built-in board game against any agent in the
//! browser, or gives the verdict of a debate between two agents (the judge seat). The
//! match runs on a thread of its own with the engine's own match loop; the person's seat is an
//! agent that shows each position on the page and waits for the move posted from it (an
//! unreadable or illegal move is refused with the engine's reason and asked again). The finished
//! game is stored as a one-match tournament like any other, so the ratings and the report see it.
//! Each position shown carries its number: a move posted for another position (a replayed or stale
//! form) is refused with 409 and changes nothing.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use agents::{Agent, AgentConfig, AgentError, AgentRng, Decision, View};
use games::{Action, GameRef, InputKind, Player, Turn};
use rand::TryRngCore;

use super::{Page, layout};
use crate::engine::runner::{Keep, Limits, MatchSetup, play_match};
use crate::engine::schedule::Pairing;
use crate::engine::tournament::{AgentEntry, TournamentConfig};
use crate::report::html::escape;
use crate::resources::Resources;
use crate::store::{AgentRow, ScheduledMatch, Store, StoreLocation, is_token, one_use_token};

/// How long the person's seat waits for a move before the game is scored as left.
const PATIENCE: Duration = Duration::from_secs(30 * 60);
/// The longest move text taken from a form.
const MAX_MOVE_CHARS: usize = 200;
/// The longest name kept.
const MAX_NAME_CHARS: usize = 60;

/// The games in play, by token.
#[derive(Debug, Default)]
pub(super) struct Sessions {
    sessions: Mutex<HashMap<String, Arc<Session>>>,
}

/// One game between a person and an agent.
#[derive(Debug)]
struct Session {
    title: String,
    state: Mutex<SessionState>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct SessionState {
    /// The position the person must move in, while one is awaited.
    awaiting: Option<Position>,
    /// Positions shown so far (numbers the forms).
    shown: u64,
    /// The move posted for the awaited position.
    reply: Option<String>,
    /// How it ended, once it has.
    finished: Option<String>,
}

#[derive(Clone, Debug)]
struct Position {
    number: u64,
    board: String,
    legal: Vec<String>,
    feedback: Option<String>,
    last_moves: Vec<String>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The person's seat: shows positions to the page and waits for its moves.
#[derive(Debug)]
struct WebPerson {
    session: Arc<Session>,
    seat: Player,
    since_last_turn: Vec<(Turn, Option<Action>)>,
}

impl Agent for WebPerson {
    fn start(&mut self, _game: &GameRef, player: Player) -> Result<(), AgentError> {
        self.seat = player;
        Ok(())
    }

    fn act(&mut self, view: &View<'_>, _rng: &mut AgentRng) -> Result<Decision, AgentError> {
        if view.input_kind() != InputKind::Discrete {
            return Err(AgentError::NotSupported("the play page takes moves, not free text".into()));
        }
        let last_moves = std::mem::take(&mut self.since_last_turn)
            .into_iter()
            .filter_map(|(actor, action)| match actor {
                Turn::Player(p) if p != self.seat => Some(format!(
                    "seat {p} played {}",
                    action.map_or("a hidden move".into(), |a| view.action_to_string(a))
                )),
                _ => None,
            })
            .collect();
        let mut state = lock(&self.session.state);
        state.shown += 1;
        state.reply = None;
        state.awaiting = Some(Position {
            number: state.shown,
            board: view.observation_string(),
            legal: view.legal_actions().iter().map(|&a| view.action_to_string(a)).collect(),
            feedback: view.feedback().map(str::to_string),
            last_moves,
        });
        let (mut state, _) = self
            .session
            .changed
            .wait_timeout_while(state, PATIENCE, |s| s.reply.is_none())
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        state.awaiting = None;
        match state.reply.take() {
            Some(reply) => Ok(Decision::text(reply)),
            None => Err(AgentError::Resigned(format!(
                "the person left the page (no move in {} min)",
                PATIENCE.as_secs() / 60
            ))),
        }
    }

    fn observes_moves(&self) -> bool {
        true
    }

    fn observe(&mut self, actor: Turn, action: Option<Action>) {
        self.since_last_turn.push((actor, action));
    }

    fn retries(&self) -> usize {
        1000
    }
}

/// The form to start a game.
pub(super) fn new_game_form() -> Page {
    let resources = Resources::new();
    let options: String = resources
        .games()
        .games()
        .iter()
        .filter(|g| {
            resources
                .load_game(g.name)
                .is_ok_and(|game| game.facts().players == 2 && game.facts().input == InputKind::Discrete)
        })
        .map(|g| format!("<option value=\"{0}\">{0}</option>", escape(g.name)))
        .collect();
    let body = format!(
        "<form method=\"post\" action=\"/play\">\
         <p><label>Game <select name=\"game\" id=\"game\">{options}</select></label> \
         (or a spec with parameters: <input name=\"spec\" id=\"spec\" placeholder=\"hex(size=7)\">)</p>\
         <p><label>Opponent <input name=\"opponent\" id=\"opponent\" value=\"mcts(sims=200)\" size=\"40\"></label></p>\
         <p><label>You play seat <select name=\"seat\" id=\"seat\"><option>0</option><option>1</option></select></label></p>\
         <p><label>Your name <input name=\"name\" id=\"name\" maxlength=\"{MAX_NAME_CHARS}\"></label></p>\
         <button id=\"start\">Start</button></form>"
    );
    Page::html(200, layout("Play", &body))
}

/// Starts a game from the posted form; its page's address.
pub(super) fn start(sessions: &Arc<Sessions>, db: &StoreLocation, form: &[(String, String)]) -> Page {
    let field = |name: &str| super::field(form, name);
    let spec = field("spec").map(str::trim).filter(|s| !s.is_empty()).or(field("game"));
    let (Some(spec), Some(opponent), Some(seat)) = (spec, field("opponent"), field("seat")) else {
        return Page::text(400, "a new game needs `game` (or `spec`), `opponent` and `seat`\n".into());
    };
    let Some(seat) = seat.parse::<usize>().ok().filter(|s| *s < 2) else {
        return Page::text(400, format!("seat `{seat}`: 0 or 1\n"));
    };
    let resources = Resources::new();
    let game = match resources.load_game(spec) {
        Ok(game) if game.facts().players == 2 && game.facts().input == InputKind::Discrete => game,
        Ok(_) => return Page::text(400, format!("`{spec}` is not a two-player game of moves\n")),
        Err(error) => return Page::text(400, format!("{error:#}\n")),
    };
    let opponent = match agent_for(&resources, &game, "opponent", opponent, 1 - seat) {
        Ok(entry) => entry,
        Err(page) => return page,
    };
    let person = person_entry(field("name"), &[&opponent]);
    let title = format!("{} — {} (seat {seat}) against {}", game.spec(), person.name, opponent.agent);
    launch(sessions, db, resources, game, Role::Player { seat, person, opponent }, title)
}

/// The form to judge a debate between two agents.
pub(super) fn new_debate_form() -> Page {
    let body = format!(
        "<p>Two agents debate a proposition; you give the verdict, and the ground truth scores it.</p>\
         <form method=\"post\" action=\"/judge/new\">\
         <p><label>Debate <input name=\"spec\" id=\"spec\" value=\"debate(rounds=1)\" size=\"40\"></label></p>\
         <p><label>Pro <input name=\"pro\" id=\"pro\" size=\"60\" placeholder=\"llm(model=...)\"></label></p>\
         <p><label>Con <input name=\"con\" id=\"con\" size=\"60\" placeholder=\"llm(model=...)\"></label></p>\
         <p><label>Your name <input name=\"name\" id=\"name\" maxlength=\"{MAX_NAME_CHARS}\"></label></p>\
         <button id=\"start\">Start</button></form>"
    );
    Page::html(200, layout("Judge a debate", &body))
}

/// Starts a debate the person judges.
pub(super) fn start_debate(sessions: &Arc<Sessions>, db: &StoreLocation, form: &[(String, String)]) -> Page {
    let field = |name: &str| super::field(form, name);
    let (Some(spec), Some(pro), Some(con)) = (field("spec"), field("pro"), field("con")) else {
        return Page::text(400, "a debate needs `spec`, `pro` and `con`\n".into());
    };
    let resources = Resources::new();
    let game = match resources.load_game(spec) {
        Ok(game) if game.facts().players == 3 && game.seat_input(2) == InputKind::Discrete => game,
        Ok(_) => return Page::text(400, format!("`{spec}` has no judge seat (a debate with judge=seat has one)\n")),
        Err(error) => return Page::text(400, format!("{error:#}\n")),
    };
    let (pro, con) = match (agent_for(&resources, &game, "pro", pro, 0), agent_for(&resources, &game, "con", con, 1)) {
        (Ok(pro), Ok(con)) => (pro, con),
        (Err(page), _) | (_, Err(page)) => return page,
    };
    let con = if con.name == pro.name { AgentEntry::new(format!("{}#2", con.name), con.agent) } else { con };
    let person = person_entry(field("name"), &[&pro, &con]);
    let title = format!("{} — {} judges {} against {}", game.spec(), person.name, pro.agent, con.agent);
    launch(sessions, db, resources, game, Role::Judge { person, debaters: [pro, con] }, title)
}

/// An agent for `seat` from its spec, checked; or the error page.
fn agent_for(resources: &Resources, game: &GameRef, what: &str, spec: &str, seat: usize) -> Result<AgentEntry, Page> {
    let config = match AgentConfig::parse(spec) {
        Ok(config) if config.name() == agents::human::HUMAN => {
            return Err(Page::text(
                400,
                format!("{what}: an agent, not `human` (which reads this server's terminal)\n"),
            ));
        }
        Ok(config) => config,
        Err(error) => return Err(Page::text(400, format!("{what} `{spec}`: {error}\n"))),
    };
    if let Err(error) = resources.check_agent(&config, game.as_ref(), &[seat]) {
        return Err(Page::text(400, format!("{what} `{spec}`: {error:#}\n")));
    }
    Ok(AgentEntry::new(config.name().to_string(), config))
}

/// The person as an agent of the stored tournament (named apart from `others`).
fn person_entry(name: Option<&str>, others: &[&AgentEntry]) -> AgentEntry {
    let name: String = name.unwrap_or("").trim().chars().take(MAX_NAME_CHARS).collect();
    let name = if name.is_empty() { "person".to_string() } else { name };
    let name = if others.iter().any(|o| o.name == name) { format!("{name} (person)") } else { name };
    AgentEntry::new(name, AgentConfig::Spec(agents::human::HUMAN.into()))
}

/// Where the person sits.
enum Role {
    /// A player's seat against one opponent.
    Player { seat: usize, person: AgentEntry, opponent: AgentEntry },
    /// The judge seat (2) of a debate between two agents.
    Judge { person: AgentEntry, debaters: [AgentEntry; 2] },
}

/// Starts the match on a thread of its own; the page to follow it.
fn launch(
    sessions: &Arc<Sessions>,
    db: &StoreLocation,
    resources: Resources,
    game: GameRef,
    role: Role,
    title: String,
) -> Page {
    let token = match one_use_token() {
        Ok(token) => token,
        Err(error) => return Page::text(500, format!("{error:#}\n")),
    };
    let session = Arc::new(Session { title, state: Mutex::new(SessionState::default()), changed: Condvar::new() });
    lock(&sessions.sessions).insert(token.clone(), session.clone());
    let db = db.clone();
    let spawned = std::thread::Builder::new().name("arena-play".into()).spawn(move || {
        let ended = play_and_store(&resources, &game, &role, &session, &db);
        let mut state = lock(&session.state);
        state.awaiting = None;
        state.finished =
            Some(ended.unwrap_or_else(|error| format!("The game could not be played or stored: {error:#}")));
    });
    if let Err(error) = spawned {
        return Page::text(500, format!("cannot start the game: {error}\n"));
    }
    Page::redirect(&format!("/play/{token}"))
}

/// Plays the match and stores it; how it ended, in words.
fn play_and_store(
    resources: &Resources,
    game: &GameRef,
    role: &Role,
    session: &Arc<Session>,
    db: &StoreLocation,
) -> crate::error::Result<String> {
    let mut seed = [0u8; 8];
    rand::rngs::OsRng
        .try_fill_bytes(&mut seed)
        .map_err(|e| crate::error::Error::Invalid(format!("no randomness from the operating system: {e}")))?;
    let seed = u64::from_le_bytes(seed);
    // The tournament's agents and judges, the seats (agent indices) and the person's seat.
    let (agents, judges, seats, person_seat) = match role {
        Role::Player { seat, person, opponent } => {
            (vec![person.clone(), opponent.clone()], Vec::new(), if *seat == 0 { [0, 1] } else { [1, 0] }, *seat)
        }
        Role::Judge { person, debaters } => (debaters.to_vec(), vec![person.clone()], [0, 1], 2),
    };
    let mut person = WebPerson { session: session.clone(), seat: person_seat, since_last_turn: Vec::new() };
    // Each seat's agent: built from its entry, or the person.
    let mut built: Vec<Option<Box<dyn Agent>>> = Vec::new();
    for seat in 0..game.facts().players {
        built.push(match seats.get(seat) {
            Some(&index) if seat != person_seat => Some(resources.build_agent(&agents[index].agent)?),
            _ => None,
        });
    }
    let setup = MatchSetup { game, seed, opening: &[], limits: Limits::default(), keep: Keep::Moves };
    let result = {
        let mut person_slot = Some(&mut person as &mut dyn Agent);
        let in_seats: Option<Vec<&mut dyn Agent>> = built
            .iter_mut()
            .map(|agent| agent.as_mut().map(|a| a.as_mut() as &mut dyn Agent).or_else(|| person_slot.take()))
            .collect();
        let mut in_seats = in_seats.ok_or_else(|| crate::error::Error::Invalid("a seat without an agent".into()))?;
        play_match(&setup, &mut in_seats).map_err(|e| crate::error::Error::Invalid(format!("{e}")))?
    };
    let config = TournamentConfig {
        games_per_pairing: 1,
        seed,
        judges: judges.clone(),
        ..TournamentConfig::new(game.spec().to_string(), agents.clone())
    };
    let row = |e: &AgentEntry| AgentRow { name: e.name.clone(), spec: e.agent.to_string(), checkpoint_hash: None };
    let rows: Vec<AgentRow> = agents.iter().map(row).collect();
    let judge_rows: Vec<AgentRow> = judges.iter().map(row).collect();
    let mut store = Store::connect(db)?;
    let id = store.create_tournament(&game.spec().to_string(), &config.canonical(), &rows, &judge_rows, &[])?;
    let judge = (!judges.is_empty()).then_some(0);
    let scheduled =
        ScheduledMatch { index: 0, pairing: Pairing { round: 1, seats, opening: 0 }, seed, opening: Vec::new(), judge };
    store.schedule(id, &[scheduled])?;
    let person_return = result.returns.get(person_seat).copied().unwrap_or(0.0);
    let end = result.end.kind().describe();
    store.record(id, &[(0, result)])?;
    store.finish_tournament(id)?;
    let verdict = match (role, person_return) {
        (Role::Judge { .. }, r) if r > 0.0 => "Your verdict was right",
        (Role::Judge { .. }, _) => "Your verdict was wrong",
        (_, r) if r > 0.0 => "You won",
        (_, r) if r < 0.0 => "You lost",
        _ => "A draw",
    };
    Ok(format!("{verdict} ({end}); stored as tournament {id}."))
}

/// A game's page: the position and the moves, the opponent thinking, or the end.
pub(super) fn show(sessions: &Sessions, token: &str) -> Page {
    let Some(session) = find(sessions, token) else {
        return Page::text(404, "no game is played under this address\n".into());
    };
    let state = lock(&session.state);
    let body = if let Some(ended) = &state.finished {
        format!(
            "<p id=\"result\">{}</p><p><a href=\"/play\">Another game</a> · <a href=\"/\">Leaderboard</a></p>",
            escape(ended)
        )
    } else if let Some(position) = state.awaiting.as_ref().filter(|_| state.reply.is_none()) {
        let feedback = position
            .feedback
            .as_ref()
            .map(|f| format!("<p class=\"feedback\" id=\"feedback\">Not accepted: {}</p>", escape(f)))
            .unwrap_or_default();
        let moves: String = position
            .legal
            .iter()
            .map(|m| format!("<button name=\"move\" value=\"{0}\" id=\"move-{0}\">{0}</button>", escape(m)))
            .collect();
        format!(
            "<p id=\"last\">{last}</p>{feedback}<pre class=\"prompt\" id=\"board\">{board}</pre>\
             <form method=\"post\" action=\"/play/{token}\"><input type=\"hidden\" name=\"turn\" value=\"{number}\">\
             <p>{moves}</p></form>\
             <form method=\"post\" action=\"/play/{token}\"><input type=\"hidden\" name=\"turn\" value=\"{number}\">\
             <p><label>Or type a move <input name=\"move\" id=\"typed\" maxlength=\"{MAX_MOVE_CHARS}\"></label> \
             <button id=\"send\">Play</button></p></form>",
            last = escape(&position.last_moves.join("; ")),
            board = escape(position.board.trim_end()),
            number = position.number,
            token = escape(token),
        )
    } else {
        "<p id=\"thinking\">The opponent is thinking…</p>".to_string()
    };
    let mut page = layout(&session.title, &body);
    // A move posted and not yet taken counts as the opponent's time, so no stale form is shown.
    if state.finished.is_none() && (state.awaiting.is_none() || state.reply.is_some()) {
        // The page looks again in a moment (no script needed).
        page = page.replacen("<head>", "<head><meta http-equiv=\"refresh\" content=\"1\">", 1);
    }
    Page::html(200, page)
}

/// Takes a posted move for the position it was shown with.
pub(super) fn post_move(sessions: &Sessions, token: &str, form: &[(String, String)]) -> Page {
    let Some(session) = find(sessions, token) else {
        return Page::text(404, "no game is played under this address\n".into());
    };
    let turn = super::field(form, "turn").and_then(|t| t.parse::<u64>().ok());
    let played =
        super::field(form, "move").map(str::trim).filter(|m| !m.is_empty() && m.chars().count() <= MAX_MOVE_CHARS);
    let (Some(turn), Some(played)) = (turn, played) else {
        return Page::text(400, format!("a move needs `turn` and `move` (at most {MAX_MOVE_CHARS} characters)\n"));
    };
    let mut state = lock(&session.state);
    if state.awaiting.as_ref().is_none_or(|p| p.number != turn) || state.reply.is_some() {
        return Page::text(409, "this position is no longer waiting for a move (a stale or repeated form)\n".into());
    }
    state.reply = Some(played.to_string());
    session.changed.notify_all();
    drop(state);
    Page::redirect(&format!("/play/{token}"))
}

fn find(sessions: &Sessions, token: &str) -> Option<Arc<Session>> {
    if !is_token(token) {
        return None;
    }
    lock(&sessions.sessions).get(token).cloned()
}
