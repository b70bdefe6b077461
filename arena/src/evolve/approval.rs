//! `arena evolve --approve`: before a child that passed its gate joins the population, a person
//! sees the gate's result, the generation's measures against fixed opponents and sample gate
//! games, and approves or vetoes it — in the terminal, or on `arena serve`'s approve page over the
//! run's store (the run puts the request into the store and waits for the decision). The decision
//! and who made it go with the gate into the lineage and the store; a resumed run reuses a
//! decision already recorded instead of asking again.

use std::io::{BufRead, Write};
use std::time::Duration;

use games::{Game, Move};

use super::summary::{Approval, GateResult, GenerationSummary};
use super::{Generation, language};
use crate::error::{Error, Result, bail};
use crate::store::{Store, one_use_token};

/// Who decides on promotions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Approver {
    /// A person at this terminal, recorded under this name.
    Terminal(String),
    /// A person on `arena serve`'s approve page over the run's store (who gives a name there).
    Web,
}

/// How often a run waiting for a decision on the web looks at the store.
const WEB_POLL: Duration = Duration::from_millis(500);

/// Sample games shown with a request.
const SAMPLE_GAMES: usize = 2;
/// The longest text move shown whole in a sample game.
const TEXT_MOVE_CHARS: usize = 160;

/// What a person decides on.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ApprovalRequest {
    pub generation: u32,
    pub gate: GateResult,
    /// The generation's measures (the champion against the anchors, held-out figures, suite).
    pub measures: Vec<String>,
    /// A few gate games, one line each: seats, moves and result.
    pub samples: Vec<String>,
}

impl ApprovalRequest {
    /// The request as shown in a terminal.
    pub fn describe(&self) -> String {
        let gate = &self.gate;
        let mut text = format!(
            "\n=== Generation {}: promote {} over its parent {}? ===\nGate: {:.1}% over {} games ({})\n",
            self.generation,
            gate.child,
            gate.parent,
            100.0 * gate.score,
            gate.games,
            gate.decision
        );
        for line in &self.measures {
            text.push_str(&format!("{line}\n"));
        }
        if !self.samples.is_empty() {
            text.push_str("Sample gate games:\n");
            for line in &self.samples {
                text.push_str(&format!("  {line}\n"));
            }
        }
        text
    }
}

/// Asks a person through `input` and `output` (the terminal): `approve` (or `y`) or `veto` (or
/// `n`); anything else is asked again. End of input gives no decision: an error, so the run
/// stops with nothing recorded for this child and asks again when resumed.
pub fn ask(request: &ApprovalRequest, by: &str, input: &mut dyn BufRead, output: &mut dyn Write) -> Result<Approval> {
    let say = |output: &mut dyn Write, text: &str| {
        output
            .write_all(text.as_bytes())
            .and_then(|()| output.flush())
            .map_err(|e| Error::Invalid(format!("cannot ask for approval: {e}")))
    };
    say(output, &request.describe())?;
    loop {
        say(output, &format!("Approve {} (approve/veto)? ", request.gate.child))?;
        let mut line = String::new();
        let read = input.read_line(&mut line).map_err(|e| Error::Invalid(format!("cannot read the answer: {e}")))?;
        if read == 0 {
            bail!("no decision on {} (end of input): the run stops here; `--resume` asks again", request.gate.child);
        }
        let approved = match line.trim().to_ascii_lowercase().as_str() {
            "approve" | "approved" | "y" | "yes" => true,
            "veto" | "vetoed" | "n" | "no" => false,
            _ => continue,
        };
        say(output, if approved { "Approved.\n" } else { "Vetoed: the child stays out of the population.\n" })?;
        return Ok(Approval { approved, by: by.to_string() });
    }
}

/// Who approves when no name is given: the login name, else `someone`.
pub fn default_approver() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .ok()
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| "someone".to_string())
}

impl Generation<'_> {
    /// A person's decision on `request`, asked as `approver` says.
    pub(super) fn decide(&self, approver: &Approver, request: &ApprovalRequest) -> Result<Approval> {
        match approver {
            Approver::Terminal(by) => ask(request, by, &mut std::io::stdin().lock(), &mut std::io::stderr()),
            Approver::Web => {
                let store = Store::connect(&self.store_location())?;
                // A resumed run finds its own request (decided or not) by run and child.
                let run = std::fs::canonicalize(self.run.path()).unwrap_or_else(|_| self.run.path().to_path_buf());
                let id = store.request_approval(
                    &run.display().to_string(),
                    &request.gate.child,
                    request.generation,
                    &serde_json::to_string(request)?,
                    &one_use_token()?,
                )?;
                self.progress.log(&format!(
                    "generation {}: waiting for a decision on {}: `arena serve --db {}`, page /approve",
                    request.generation,
                    request.gate.child,
                    self.store_location()
                ));
                loop {
                    let stored = store.approval(id)?;
                    if let Some((approved, by)) = stored.and_then(|s| s.decision) {
                        self.progress.log(&format!(
                            "generation {}: {} {} by {by}",
                            request.generation,
                            request.gate.child,
                            if approved { "approved" } else { "vetoed" }
                        ));
                        return Ok(Approval { approved, by });
                    }
                    std::thread::sleep(WEB_POLL);
                }
            }
        }
    }

    /// The request for `gate`, with the generation's measures so far and sample games of the gate
    /// `tournaments`.
    pub(super) fn approval_request(
        &self,
        generation: u32,
        gate: &GateResult,
        tournaments: &[i64],
        summary: &GenerationSummary,
    ) -> Result<ApprovalRequest> {
        let mut measures = vec![format!(
            "This generation's champion {}: rating {:+.0} [{:+.0}, {:+.0}]; against the anchors {}",
            summary.champion,
            summary.champion_rating,
            summary.champion_ci.0,
            summary.champion_ci.1,
            summary
                .champion_vs_anchors
                .iter()
                .map(|(anchor, score)| format!("{anchor} {:.0}%", 100.0 * score))
                .collect::<Vec<_>>()
                .join(", ")
        )];
        if let Some(held_out) = summary.language.as_ref().and_then(|l| l.held_out.as_ref()) {
            measures.push(format!("Held-out: {}", language::describe(held_out)));
        }
        if let Some(suite) = &summary.suite {
            measures.push(format!(
                "Position suite: optimal moves {} raw, {} with search",
                suite.raw.optimal, suite.search.optimal
            ));
        }
        let game = self.resources.load_game(&self.config.game)?;
        let mut samples = Vec::new();
        if let Some(&first) = tournaments.first() {
            let store = Store::connect(&self.store_location())?;
            let names = [gate.child.as_str(), gate.parent.as_str()];
            let finished = store.finished(first)?;
            let moves = store.match_moves(first)?;
            for game_result in finished.iter().take(SAMPLE_GAMES) {
                let played = moves.get(&game_result.index).map(Vec::as_slice).unwrap_or_default();
                samples.push(format!(
                    "{} (seat 0) v {} (seat 1): {} → {}",
                    names[game_result.seats[0]],
                    names[game_result.seats[1]],
                    move_names(game.as_ref(), played),
                    match game_result.score0 {
                        s if s > 0.5 => "seat 0 won".to_string(),
                        s if s < 0.5 => "seat 1 won".to_string(),
                        _ => "a draw".to_string(),
                    }
                ));
            }
        }
        Ok(ApprovalRequest { generation, gate: gate.clone(), measures, samples })
    }
}

/// The moves of a game by name, replayed from the start (text moves shortened).
fn move_names(game: &dyn Game, moves: &[Move]) -> String {
    let mut state = game.new_initial_state();
    let mut names = Vec::new();
    for played in moves {
        match played {
            Move::Action(action) => {
                names.push(state.action_to_string(*action));
                if state.apply(*action).is_err() {
                    break;
                }
            }
            Move::Text(text) => {
                let short: String = text.chars().take(TEXT_MOVE_CHARS).collect();
                let cut = if short.len() < text.len() { "…" } else { "" };
                names.push(format!("«{}{cut}»", short.replace('\n', " ")));
                if state.apply_text(text).is_err() {
                    break;
                }
            }
        }
    }
    names.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evolve::GateDecision;

    fn request() -> ApprovalRequest {
        ApprovalRequest {
            generation: 3,
            gate: GateResult {
                child: "g3c0".into(),
                parent: "g2c0".into(),
                games: 20,
                score: 0.7,
                decision: GateDecision::Threshold { llr: 1.0, score: 0.7, threshold: 0.55 },
                trace: Vec::new(),
                bounds: None,
                approval: None,
            },
            measures: vec!["Held-out: vs random 80%".into()],
            samples: vec!["g3c0 (seat 0) v g2c0 (seat 1): a1 b2 → seat 0 won".into()],
        }
    }

    fn answer(typed: &str) -> (Result<Approval>, String) {
        let mut input = std::io::Cursor::new(typed.as_bytes().to_vec());
        let mut output = Vec::new();
        let decision = ask(&request(), "ana", &mut input, &mut output);
        (decision, String::from_utf8_lossy(&output).into_owned())
    }

    #[test]
    fn a_person_approves_or_vetoes_after_seeing_the_gate_the_measures_and_games() {
        let (decision, shown) = answer("maybe\nveto\n");
        assert_eq!(decision.ok(), Some(Approval { approved: false, by: "ana".into() }));
        assert!(
            shown.contains("promote g3c0 over its parent g2c0") && shown.contains("70.0% over 20 games"),
            "{shown}"
        );
        assert!(shown.contains("Held-out: vs random 80%") && shown.contains("a1 b2 → seat 0 won"), "{shown}");
        assert_eq!(shown.matches("Approve g3c0").count(), 2, "asked again after `maybe`: {shown}");
        let (decision, _) = answer("y\n");
        assert_eq!(decision.ok(), Some(Approval { approved: true, by: "ana".into() }));
        let (decision, _) = answer("");
        assert!(decision.is_err_and(|e| e.to_string().contains("--resume")));
    }

    #[test]
    fn a_vetoed_child_is_not_promoted_and_says_so() {
        let mut gate = request().gate;
        assert!(gate.promoted());
        gate.approval = Some(Approval { approved: false, by: "ana".into() });
        assert!(!gate.promoted());
        assert_eq!(gate.status(), crate::evolve::lineage::Status::Vetoed);
        gate.approval = Some(Approval { approved: true, by: "ana".into() });
        assert_eq!(gate.status(), crate::evolve::lineage::Status::Promoted);
    }
}
