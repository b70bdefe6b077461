//! Ratings from game results: Elo family, Bradley–Terry with confidence intervals, SPRT. Pure math, no I/O.
