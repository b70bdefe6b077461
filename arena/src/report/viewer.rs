//! The report's game viewer: a sample of stored matches replayed move by move into frames (the
//! board after each move, for games that draw one) and transcripts (the language models' accepted
//! and rejected answers, the judge's verdict, the truth), embedded as data; the page's own script
//! steps through them, writing every text with `textContent`, never as markup.

use serde::Serialize;

use crate::error::Result;
use crate::store::Store;
use crate::text_data::export::{ExportedMatch, exported_matches};

/// The most matches one report carries for viewing: a report stays small and quick to open,
/// whatever the store's size.
pub const MOST_MATCHES: usize = 40;

/// One match as the viewer shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ViewedMatch {
    /// `tournament 3, match 12: a vs b`.
    pub label: String,
    pub game: String,
    /// The agent in each seat (a judge third).
    pub seats: Vec<String>,
    /// Each seat's return.
    pub returns: Vec<f64>,
    /// Why the game ended early, if it did (a forfeit).
    pub fault: Option<String>,
    /// The board's shape and pieces, when the game draws one.
    pub board: Option<BoardShape>,
    /// The start, then one frame per move.
    pub frames: Vec<Frame>,
    /// The language models' answers in play order.
    pub turns: Vec<ViewedTurn>,
    /// The final position as the game writes it for people (a debate's proposition, its truth
    /// and the verdict; hidden cards).
    pub final_position: String,
    /// Why the moves could not be replayed, if they could not (a game this build does not know).
    pub replay_error: Option<String>,
}

/// A board's shape and how its pieces look.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BoardShape {
    pub rows: usize,
    pub columns: usize,
    pub layout: games::BoardLayout,
    pub pieces: [String; 2],
}

/// The position after a move.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Frame {
    /// The move as text (`start` for the first frame).
    pub text: String,
    /// Who moved: a seat, or `None` for chance and the start.
    pub seat: Option<usize>,
    /// The board's cells, when the game draws one.
    pub cells: Option<String>,
}

/// One language-model answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ViewedTurn {
    pub seat: usize,
    pub agent: String,
    pub ply: usize,
    pub text: String,
    /// The engine refused it (illegal or unreadable); the agent answered again or forfeited.
    pub rejected: bool,
}

/// Up to [`MOST_MATCHES`] finished matches of `tournament` in `store`, spread evenly over it.
pub fn sample(store: &Store, tournament: i64) -> Result<Vec<ViewedMatch>> {
    let matches = exported_matches(store, Some(tournament))?;
    let step = matches.len().div_ceil(MOST_MATCHES).max(1);
    Ok(matches.iter().step_by(step).take(MOST_MATCHES).map(view).collect())
}

/// Replays one match into frames; a move that does not replay stops the frames there and says why.
pub fn view(m: &ExportedMatch) -> ViewedMatch {
    let mut viewed = ViewedMatch {
        label: format!(
            "tournament {}, match {}: {}",
            m.tournament,
            m.index,
            m.seat_agents[..2.min(m.seat_agents.len())].join(" vs ")
        ),
        game: m.game.clone(),
        seats: m.seat_agents.clone(),
        returns: m.returns.clone(),
        fault: m.fault.clone(),
        board: None,
        frames: Vec::new(),
        turns: m
            .turns
            .iter()
            .map(|t| ViewedTurn {
                seat: t.seat,
                agent: m.seat_agents.get(t.seat).cloned().unwrap_or_default(),
                ply: t.ply,
                text: t.trace.completion.clone(),
                rejected: t.rejected,
            })
            .collect(),
        final_position: String::new(),
        replay_error: None,
    };
    let game = match games::load_game(&m.game) {
        Ok(game) => game,
        Err(error) => {
            viewed.replay_error = Some(error.to_string());
            return viewed;
        }
    };
    let mut state = game.new_initial_state();
    let board = state.board();
    viewed.board = board.as_ref().map(|b| BoardShape {
        rows: b.rows,
        columns: b.columns,
        layout: b.layout,
        pieces: b.pieces.clone(),
    });
    viewed.frames.push(Frame { text: "start".into(), seat: None, cells: board.map(|b| b.cells) });
    for (number, mv) in m.moves.iter().enumerate() {
        let seat = state.current_player();
        let (text, applied) = match mv {
            games::Move::Action(action) => (state.action_to_string(*action), state.apply(*action)),
            games::Move::Text(text) => (text.clone(), state.apply_text(text)),
        };
        if let Err(error) = applied {
            viewed.replay_error = Some(format!("move {} ({text}) does not replay: {error}", number + 1));
            break;
        }
        viewed.frames.push(Frame { text, seat, cells: state.board().map(|b| b.cells) });
    }
    viewed.final_position = state.render();
    viewed
}

/// The viewer's markup: the match list, the step buttons, the board, the move list and the
/// transcript; the script fills them from the report's data.
pub const MARKUP: &str = r#"<div class="viewer">
<p><label>Match <select id="viewer-match"></select></label></p>
<p class="viewer-controls"><button id="viewer-first" type="button">« first</button> <button id="viewer-back" type="button">◀ back</button> <button id="viewer-forward" type="button">forward ▶</button> <button id="viewer-last" type="button">last »</button> <span id="viewer-position"></span></p>
<div class="viewer-body"><div id="viewer-board"></div><div><p id="viewer-result"></p><ol id="viewer-moves"></ol></div></div>
<h3>Transcript</h3><div id="viewer-turns"></div><h3>Final position</h3><pre id="viewer-final"></pre>
</div>"#;

/// The viewer's script: ours, inline, reading the embedded data; every text from the data goes in
/// with `textContent` or as a `<title>`'s text, so no stored text can become markup or code.
pub const SCRIPT: &str = r#"(function () {
  const data = JSON.parse(document.getElementById('report-data').textContent);
  const matches = data.viewer || [];
  const select = document.getElementById('viewer-match');
  if (!select) { return; }
  const svgNS = 'http://www.w3.org/2000/svg';
  let current = 0, frame = 0;
  matches.forEach(function (m, i) { select.appendChild(new Option(m.label, String(i))); });
  function el(tag, text, cls) { const e = document.createElement(tag); if (text !== undefined) { e.textContent = text; } if (cls) { e.className = cls; } return e; }
  function svg(tag, attrs) { const e = document.createElementNS(svgNS, tag); for (const k in attrs) { e.setAttribute(k, attrs[k]); } return e; }
  function drawBoard(m, cells) {
    const box = document.getElementById('viewer-board');
    box.textContent = '';
    if (!m.board || cells === null || cells === undefined) { return; }
    const b = m.board, size = 36, hex = b.layout === 'hex';
    const width = (b.columns + (hex ? b.rows / 2 : 0)) * size + 8, height = b.rows * size + 8;
    const root = svg('svg', { width: width, height: height, viewBox: '0 0 ' + width + ' ' + height, 'class': 'board' });
    for (let r = 0; r < b.rows; r++) {
      for (let c = 0; c < b.columns; c++) {
        const x = 4 + c * size + (hex ? r * size / 2 : 0), y = 4 + r * size;
        root.appendChild(svg(hex ? 'circle' : 'rect', hex ? { cx: x + size / 2, cy: y + size / 2, r: size / 2 - 1, 'class': 'cell' } : { x: x, y: y, width: size, height: size, 'class': 'cell' }));
        const piece = cells[r * b.columns + c];
        if (piece === '0' || piece === '1') {
          const look = b.pieces[Number(piece)];
          if (look.length <= 2) {
            const t = svg('text', { x: x + size / 2, y: y + size / 2 + 8, 'text-anchor': 'middle', 'class': 'mark' });
            t.textContent = look;
            root.appendChild(t);
          } else {
            root.appendChild(svg('circle', { cx: x + size / 2, cy: y + size / 2, r: size / 2 - 5, fill: look, stroke: '#333', 'class': 'piece piece-' + piece }));
          }
        }
      }
    }
    box.appendChild(root);
  }
  function show() {
    const m = matches[current];
    if (!m) { return; }
    frame = Math.max(0, Math.min(frame, m.frames.length - 1));
    const f = m.frames[frame];
    drawBoard(m, f.cells);
    document.getElementById('viewer-position').textContent = 'move ' + frame + ' of ' + (m.frames.length - 1) + (frame > 0 ? ': ' + f.text : '');
    const result = document.getElementById('viewer-result');
    result.textContent = m.seats.map(function (s, i) { return s + ' ' + (m.returns[i] > 0 ? '+' : '') + m.returns[i]; }).join(', ') + (m.fault ? ' — ' + m.fault : '') + (m.replay_error ? ' — ' + m.replay_error : '');
    const moves = document.getElementById('viewer-moves');
    moves.textContent = '';
    m.frames.slice(1).forEach(function (g, i) {
      const who = g.seat === null ? 'chance' : (m.seats[g.seat] || ('seat ' + g.seat));
      const item = el('li', who + ': ' + (g.text.length > 120 ? g.text.slice(0, 117) + '…' : g.text), i + 1 === frame ? 'current' : undefined);
      moves.appendChild(item);
    });
    const turns = document.getElementById('viewer-turns');
    turns.textContent = '';
    if (m.turns.length === 0) { turns.appendChild(el('p', 'No language-model turns in this match.', 'muted')); }
    m.turns.forEach(function (t) {
      const block = el('div', undefined, t.rejected ? 'turn rejected' : 'turn');
      block.appendChild(el('strong', t.agent + ' (seat ' + t.seat + ', move ' + t.ply + (t.rejected ? ', rejected' : '') + ')'));
      block.appendChild(el('pre', t.text));
      turns.appendChild(block);
    });
    document.getElementById('viewer-final').textContent = m.final_position;
  }
  select.addEventListener('change', function () { current = Number(select.value); frame = 0; show(); });
  document.getElementById('viewer-first').addEventListener('click', function () { frame = 0; show(); });
  document.getElementById('viewer-back').addEventListener('click', function () { frame -= 1; show(); });
  document.getElementById('viewer-forward').addEventListener('click', function () { frame += 1; show(); });
  document.getElementById('viewer-last').addEventListener('click', function () { frame = 1e9; show(); });
  document.addEventListener('keydown', function (e) { if (e.key === 'ArrowRight') { frame += 1; show(); } else if (e.key === 'ArrowLeft') { frame -= 1; show(); } });
  show();
})();"#;
