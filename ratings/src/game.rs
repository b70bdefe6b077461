//! One game's result between two players, scored from the first player's side.

/// The result of one game: `score` is the first player's score, 1 (win), 0.5 (draw) or 0 (loss).
///
/// "First" only says who is listed first; no rating method here gives the first seat an advantage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GameResult {
    /// Index of the player listed first.
    pub first: usize,
    /// Index of the player listed second.
    pub second: usize,
    /// The first player's score: 1, 0.5 or 0.
    pub score: f64,
}

/// A game's outcome from the first player's side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The first player won.
    Win,
    /// A draw.
    Draw,
    /// The first player lost.
    Loss,
}

impl Outcome {
    /// The first player's score: 1, 0.5 or 0.
    pub fn score(self) -> f64 {
        match self {
            Self::Win => 1.0,
            Self::Draw => 0.5,
            Self::Loss => 0.0,
        }
    }

    /// The outcome with this score, if the score is exactly 1, 0.5 or 0.
    pub fn from_score(score: f64) -> Option<Self> {
        if score == 1.0 {
            Some(Self::Win)
        } else if score == 0.5 {
            Some(Self::Draw)
        } else if score == 0.0 {
            Some(Self::Loss)
        } else {
            None
        }
    }
}

impl GameResult {
    /// A game won by `first`.
    pub fn win(first: usize, second: usize) -> Self {
        Self { first, second, score: 1.0 }
    }

    /// A drawn game.
    pub fn draw(first: usize, second: usize) -> Self {
        Self { first, second, score: 0.5 }
    }

    /// A game lost by `first`.
    pub fn loss(first: usize, second: usize) -> Self {
        Self { first, second, score: 0.0 }
    }

    /// Checks this game (number `game` in its list) against a field of `players` players and
    /// returns its outcome.
    pub fn validate(&self, game: usize, players: usize) -> crate::Result<Outcome> {
        for player in [self.first, self.second] {
            if player >= players {
                return Err(crate::Error::PlayerOutOfRange { game, player, players });
            }
        }
        if self.first == self.second {
            return Err(crate::Error::SelfPlay { game, player: self.first });
        }
        Outcome::from_score(self.score).ok_or(crate::Error::InvalidScore { game, score: self.score })
    }
}
