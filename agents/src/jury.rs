//! A jury: several agents vote on each discrete decision (a judge's verdict, a move) and the
//! majority decides; ties go to the vote of the earliest member among the tied. With a deadline
//! ([`View::deadline`]) the jury stops asking members once it has passed, and answers
//! [`AgentError::Timeout`].

use games::{Action, Game, GameRef, Player, Spec, Turn};
use rand::{RngCore, SeedableRng};

use crate::agent::{Agent, AgentError, AgentRng, Deadline, Decision, Reply, View};
use crate::config::AgentConfig;
use crate::factory::AgentFactory;
use crate::registry::Error;

/// The jury's name in agent specs.
pub const JURY: &str = "jury";

/// Agents that decide by majority vote.
#[derive(Debug)]
pub struct Jury {
    members: Vec<Box<dyn Agent>>,
}

impl Jury {
    pub fn new(members: Vec<Box<dyn Agent>>) -> Self {
        Jury { members }
    }

    /// Builds a jury from `jury(a=SPEC, b=SPEC, ...)`: every argument is a member, whatever its key,
    /// built through `factory` (members naming the same model share it).
    pub fn from_spec(spec: &Spec, factory: &AgentFactory) -> Result<Jury, Error> {
        let members =
            member_configs(spec)?.iter().map(|member| factory.build_config(member)).collect::<Result<Vec<_>, _>>()?;
        Ok(Jury::new(members))
    }

    /// Which legal action a member's reply names, if any.
    fn vote_of(view: &View<'_>, decision: &Decision) -> Option<Action> {
        let action = match &decision.reply {
            Reply::Action(action) => *action,
            Reply::Text(text) => view.parse_action(text).ok()?,
        };
        view.legal_actions().contains(&action).then_some(action)
    }
}

/// The members of `jury(...)`, each parsed and checked.
fn member_configs(spec: &Spec) -> Result<Vec<AgentConfig>, Error> {
    if spec.args.is_empty() {
        return Err(games::Error::BadSpec {
            spec: spec.to_string(),
            reason: "a jury needs members, e.g. jury(a=llm(model=m.gguf), b=llm(model=m.gguf,temperature=1), c=random)"
                .to_string(),
        }
        .into());
    }
    spec.args.iter().map(|(_, member)| AgentConfig::parse(member)).collect()
}

/// Checks a jury's spec (it has members, each a valid agent spec) without building anything.
pub(crate) fn check_members(spec: &Spec) -> Result<(), Error> {
    member_configs(spec).map(|_| ())
}

impl Agent for Jury {
    fn check_seat(&self, game: &dyn Game, player: Player) -> Result<(), AgentError> {
        crate::random::discrete_seat_only("jury", game, player)?;
        self.members.iter().try_for_each(|m| m.check_seat(game, player))
    }

    fn start(&mut self, game: &GameRef, player: Player) -> Result<(), AgentError> {
        self.members.iter_mut().try_for_each(|m| m.start(game, player))
    }

    fn act(&mut self, view: &View<'_>, rng: &mut AgentRng) -> Result<Decision, AgentError> {
        if view.legal_actions().is_empty() {
            return Err(AgentError::NotSupported(
                "a jury votes on discrete decisions (a verdict, a move), not on free text".to_string(),
            ));
        }
        let deadline = Deadline::of(view);
        let mut votes: Vec<(Action, usize)> = Vec::new();
        let mut first_answer = None;
        for member in &mut self.members {
            if let Some(deadline) = &deadline {
                deadline.check()?;
            }
            // Each member draws from its own stream, so adding a member does not change the others.
            let mut member_rng = AgentRng::seed_from_u64(rng.next_u64());
            let decision = member.act(view, &mut member_rng)?;
            match Self::vote_of(view, &decision) {
                Some(action) => match votes.iter_mut().find(|(a, _)| *a == action) {
                    Some((_, count)) => *count += 1,
                    None => votes.push((action, 1)),
                },
                None => {
                    first_answer.get_or_insert(decision);
                }
            }
        }
        let total: usize = votes.iter().map(|(_, n)| n).sum();
        // `votes` is in order of first vote, so the first maximum is the earliest member's choice.
        let winner = votes.iter().fold(None, |best: Option<(Action, usize)>, &(a, n)| match best {
            Some((_, m)) if m >= n => best,
            _ => Some((a, n)),
        });
        match winner {
            Some((action, _)) => {
                let mut decision = Decision::action(action);
                decision.policy = Some(votes.iter().map(|&(a, n)| (a, n as f32 / total as f32)).collect());
                Ok(decision)
            }
            // No member named a legal move: pass the first answer on, so its error is quoted back.
            None => first_answer.ok_or_else(|| AgentError::Crashed("the jury has no members".to_string())),
        }
    }

    fn observes_moves(&self) -> bool {
        self.members.iter().any(|m| m.observes_moves())
    }

    fn observe(&mut self, actor: Turn, action: Option<Action>) {
        for member in &mut self.members {
            if member.observes_moves() {
                member.observe(actor, action);
            }
        }
    }

    fn finish(&mut self, returns: &[f64]) {
        for member in &mut self.members {
            member.finish(returns);
        }
    }

    fn retries(&self) -> usize {
        self.members.iter().map(|m| m.retries()).max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use games::load_game;

    /// Always answers the same text.
    #[derive(Debug)]
    struct Says(String);

    impl Agent for Says {
        fn act(&mut self, _: &View<'_>, _: &mut AgentRng) -> Result<Decision, AgentError> {
            Ok(Decision::text(self.0.clone()))
        }
    }

    fn vote(members: Vec<Box<dyn Agent>>) -> Decision {
        let game = load_game("tic_tac_toe").unwrap_or_else(|e| panic!("{e}"));
        let state = game.new_initial_state();
        let mut legal = Vec::new();
        state.legal_actions(&mut legal);
        let view = View::new(game.as_ref(), state.as_ref(), 0, &legal);
        let mut rng = AgentRng::seed_from_u64(1);
        Jury::new(members).act(&view, &mut rng).unwrap_or_else(|e| panic!("{e}"))
    }

    fn text_of(action: u32) -> String {
        let game = load_game("tic_tac_toe").unwrap_or_else(|e| panic!("{e}"));
        game.new_initial_state().action_to_string(action)
    }

    #[test]
    fn the_majority_decides_and_the_policy_holds_the_votes() {
        let (a, b) = (text_of(4), text_of(0));
        let decision = vote(vec![Box::new(Says(b)), Box::new(Says(a.clone())), Box::new(Says(a))]);
        assert_eq!(decision.reply, Reply::Action(4));
        let policy = decision.policy.unwrap_or_default();
        assert_eq!(policy, vec![(0, 1.0 / 3.0), (4, 2.0 / 3.0)]);
    }

    #[test]
    fn ties_go_to_the_earliest_member_and_bad_votes_are_ignored() {
        let (a, b) = (text_of(4), text_of(0));
        let decision = vote(vec![Box::new(Says("nonsense".into())), Box::new(Says(b)), Box::new(Says(a))]);
        assert_eq!(decision.reply, Reply::Action(0));
        // Nobody names a move: the first answer goes to the engine, which quotes its error back.
        let decision = vote(vec![Box::new(Says("nonsense".into())), Box::new(Says("rubbish".into()))]);
        assert_eq!(decision.reply, Reply::Text("nonsense".to_string()));
    }

    #[test]
    fn a_jury_needs_members() {
        let factory = AgentFactory::new();
        let spec = Spec::parse("jury").unwrap_or_else(|e| panic!("{e}"));
        let error = Jury::from_spec(&spec, &factory).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("needs members"), "{error}");
        let spec = Spec::parse("jury(a=random, b=nosuch)").unwrap_or_else(|e| panic!("{e}"));
        let error = Jury::from_spec(&spec, &factory).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("nosuch"), "{error}");
        // Parsing the config checks the same, without building anything.
        let error = AgentConfig::parse("jury(a=random, b=mcts(sims=0))").err().map(|e| e.to_string());
        assert!(error.unwrap_or_default().contains("sims"));
    }

    /// Takes its time, then answers the first legal move.
    #[derive(Debug)]
    struct Slow;

    impl Agent for Slow {
        fn act(&mut self, view: &View<'_>, _: &mut AgentRng) -> Result<Decision, AgentError> {
            std::thread::sleep(std::time::Duration::from_millis(30));
            Ok(Decision::action(view.legal_actions()[0]))
        }
    }

    #[test]
    fn a_jury_stops_asking_members_once_its_deadline_has_passed() {
        let game = load_game("tic_tac_toe").unwrap_or_else(|e| panic!("{e}"));
        let state = game.new_initial_state();
        let mut legal = Vec::new();
        state.legal_actions(&mut legal);
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(10);
        let view = View::new(game.as_ref(), state.as_ref(), 0, &legal).with_deadline(Some(deadline));
        let mut jury = Jury::new((0..100).map(|_| Box::new(Slow) as Box<dyn Agent>).collect());
        let answer = jury.act(&view, &mut AgentRng::seed_from_u64(1));
        assert!(matches!(answer, Err(AgentError::Timeout(_))), "{answer:?}");
    }
}
