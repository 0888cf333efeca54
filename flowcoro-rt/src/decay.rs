//! Decay's policy, as constants, plain data and pure functions: how many
//! idle frames a recent peak justifies (`Settings`), how a remembered peak
//! fades and when a pool's decay step is due (`RecentPeak`), and how often
//! a thread looks at the clock. What acts on them: `lifecycle.rs` (a
//! thread's looks, the pass over every pool) and `shared.rs` (a pool's
//! decay step: the bounds set, the depots' excess freed).
//!
//! No thread of ours and no clock read per call: a thread ticks at the end
//! of each lap of frees into a pool's hot slot (a countdown it keeps for the
//! stats anyway), or every [`TICK`] reuses from its magazines, and looks at
//! a cheap cycle counter there. Ticks that come close together (a busy
//! thread) widen the interval, and the next lap, up to [`MAX_TICK`] calls, so
//! a busy fast path pays almost nothing: not even the misprediction of the
//! lap's end, which a short fixed lap would cost it. Ticks far apart (light
//! traffic) and the slow-path events of a burst (a magazine spilled to or
//! refilled from the depot, new memory) bring it back to [`TICK`], so light
//! traffic after a burst is seen within a few dozen calls.
//! The real clock is read at most about once per millisecond per thread. A
//! decay step runs at most every [`STEP`] per pool.

#[cfg(feature = "std")]
use core::cell::Cell;
use core::time::Duration;
#[cfg(feature = "std")]
use std::sync::OnceLock;
#[cfg(feature = "std")]
pub(crate) use std::time::Instant;

#[cfg(not(feature = "std"))]
pub(crate) use self::logical::{Instant, advance};

/// A self-tuned pool keeps frames for its recent peak this long after the
/// peak was seen ...
pub const DECAY_HOLD: Duration = Duration::from_millis(500);
/// ... and then the remembered peak, and the idle frames it justifies,
/// halves every `DECAY_HALF_LIFE`.
pub const DECAY_HALF_LIFE: Duration = Duration::from_secs(1);
/// Calls of a pool on one thread between two ticks: at least this many ...
pub(crate) const TICK: u64 = if cfg!(miri) { 4 } else { 32 };
#[cfg(feature = "std")]
/// ... and at most this many, which a busy thread reaches.
pub(crate) const MAX_TICK: u64 = if cfg!(miri) { 16 } else { 1024 };
/// Least time between two decay steps of one pool.
pub(crate) const STEP: Duration = Duration::from_millis(50);
/// Least time between two passes over every pool (for the pools that see no
/// traffic, and for the idle budget).
pub(crate) const PASS: Duration = Duration::from_millis(250);

/// `max_idle` unset: the pool tunes its idle bound itself.
pub(crate) const SELF_TUNED: usize = usize::MAX;

/// What a pool is declared with, and the bounds that follow from it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Settings {
    pub(crate) max_idle: usize,
    pub(crate) prewarm: usize,
}

impl Settings {
    /// Frames per magazine for this pool at most, with magazines grown to
    /// `grown`: that, or fewer under a small `max_idle`.
    pub(crate) fn magazine(self, grown: usize) -> usize {
        grown.min(self.max_idle / 2)
    }

    /// The least idle bound, whatever the recent traffic.
    pub(crate) fn idle_floor(self) -> u64 {
        self.prewarm.min(self.max_idle) as u64
    }

    /// The magazine size a thread uses for a recent peak of `peak` live
    /// frames: a thread then keeps at most `2 × cap + 1` frames per class,
    /// about what one peak's worth of calls frees. A pool whose calls never
    /// overlap much keeps few frames in each thread, however many threads
    /// free them.
    /// Magazines are at most `grown` frames (see `MAGAZINE_MAX`).
    pub(crate) fn thread_cap(self, peak: u64, grown: usize) -> usize {
        let want = peak.max(self.idle_floor()).div_ceil(2);
        let most = self.magazine(grown);
        usize::try_from(want).unwrap_or(usize::MAX).clamp(most.min(1), most)
    }

    /// The depot bound for a recent peak of `peak` live frames: enough for
    /// the peak to come back from cache, plus the magazine that frames freed
    /// on another thread travel in; never above `max_idle`.
    pub(crate) fn tuned_limit(self, peak: u64, grown: usize) -> u64 {
        let in_transit = self.thread_cap(peak, grown) as u64;
        peak.saturating_add(in_transit).max(self.idle_floor()).min(self.max_idle as u64)
    }
}

/// A pool's remembered recent peak, which its idle bounds follow, and when
/// its last decay step ran.
#[derive(Default, Debug)]
pub(crate) struct RecentPeak {
    peak: u64,
    seen_at: Option<Instant>,
    last_step: Option<Instant>,
}

impl RecentPeak {
    /// Takes `live` at `now` into the remembered peak; returns the peak as
    /// it stands after decay.
    pub(crate) fn remember(&mut self, live: u64, now: Instant) -> u64 {
        let remembered = self.seen_at.map_or(0, |at| decayed(self.peak, at, now));
        if live >= remembered {
            self.peak = live;
            self.seen_at = Some(now);
            live
        } else {
            remembered
        }
    }

    /// Whether a decay step is due at `now` (at most one every [`STEP`]);
    /// if so, it counts as run.
    pub(crate) fn step_due(&mut self, now: Instant) -> bool {
        if self.last_step.is_some_and(|last| now.saturating_duration_since(last) < STEP) {
            return false;
        }
        self.last_step = Some(now);
        true
    }
}

/// `peak` as remembered at `at`, decayed to `now`.
pub(crate) fn decayed(peak: u64, at: Instant, now: Instant) -> u64 {
    let age = now.saturating_duration_since(at);
    let Some(decaying) = age.checked_sub(DECAY_HOLD) else {
        return peak;
    };
    // Whole half-lives, then the fraction of the next one in sixteenths (a
    // table of 2^(-k/16)): no float functions, which `core` lacks.
    let half = DECAY_HALF_LIFE.as_nanos();
    let whole = decaying.as_nanos() / half;
    if whole >= 64 {
        return 0;
    }
    let sixteenths = (decaying.as_nanos() % half * 16 / half) as usize;
    ((u128::from(peak) * u128::from(FRACTION[sixteenths])) >> (16 + whole)) as u64
}

/// `2^(-k/16)` for `k` in `0..16`, in units of `2^-16`, rounded down.
const FRACTION: [u32; 16] = [
    65536, 62757, 60096, 57548, 55108, 52772, 50535, 48392, 46340, 44376, 42494, 40693, 38967,
    37315, 35733, 34218,
];

/// Milliseconds since the first use of the clock, for rate limits kept in
/// atomics.
#[cfg(feature = "std")]
pub(crate) fn millis(now: Instant) -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = *EPOCH.get_or_init(Instant::now);
    now.saturating_duration_since(epoch).as_millis() as u64
}

/// Milliseconds of the logical clock.
#[cfg(not(feature = "std"))]
pub(crate) fn millis(now: Instant) -> u64 {
    now.millis()
}

/// A cheap, monotonic-enough count: the x86-64 time-stamp counter (a few
/// nanoseconds), or the real clock elsewhere. Only compared with itself, to
/// skip real clock reads that would come too soon.
#[cfg(feature = "std")]
#[inline]
fn cycles() -> u64 {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        // SAFETY: `rdtsc` exists on every x86-64 processor and has no
        // preconditions; it only reads the counter.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    {
        millis(Instant::now()) << 20
    }
}

/// Cycles to let pass between two real clock reads of one thread: about a
/// millisecond at common clock rates.
#[cfg(feature = "std")]
const MIN_CYCLES: u64 = 1 << 21;

#[cfg(feature = "std")]
thread_local! {
    static LAST_LOOK: Cell<u64> = const { Cell::new(0) };
    static LAST_TICK: Cell<u64> = const { Cell::new(0) };
}

/// A tick of a pool on this thread, `interval` calls after the last one:
/// the next interval, and the current time unless this thread looked at the
/// clock too recently to bother.
#[cfg(feature = "std")]
#[inline]
pub(crate) fn tick(interval: u64) -> (u64, Option<Instant>) {
    let now = cycles();
    let gap = LAST_TICK.with(|last| now.wrapping_sub(last.replace(now)));
    let next = if gap < MIN_CYCLES { (interval * 2).min(MAX_TICK) } else { TICK };
    let recent = LAST_LOOK.with(|last| {
        if now.wrapping_sub(last.get()) < MIN_CYCLES {
            true
        } else {
            last.set(now);
            false
        }
    });
    (next, if recent { None } else { Some(Instant::now()) })
}

/// Without std, no thread caches tick: time is what
/// [`flowcoro_rt::tick`](crate::tick) says has passed.
#[cfg(not(feature = "std"))]
pub(crate) fn tick(interval: u64) -> (u64, Option<Instant>) {
    (interval, None)
}

/// The clock of a `no_std` build: the time the program says has passed,
/// through [`flowcoro_rt::tick`](crate::tick), in milliseconds.
#[cfg(not(feature = "std"))]
mod logical {
    use core::time::Duration;

    use crate::sync::Ordering::Relaxed;
    use crate::sync::fixed::AtomicU64;

    static NOW_MS: AtomicU64 = AtomicU64::new(0);

    #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
    pub(crate) struct Instant(u64);

    impl Instant {
        pub(crate) fn now() -> Instant {
            Instant(NOW_MS.load(Relaxed))
        }

        pub(crate) fn saturating_duration_since(self, earlier: Instant) -> Duration {
            Duration::from_millis(self.0.saturating_sub(earlier.0))
        }

        pub(crate) fn millis(self) -> u64 {
            self.0
        }
    }

    /// Moves the clock on by `elapsed`; returns the new time.
    pub(crate) fn advance(elapsed: Duration) -> Instant {
        let ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        Instant(NOW_MS.fetch_add(ms, Relaxed).saturating_add(ms))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// Float results may be off by a rounding step (Miri perturbs them).
    fn about(got: u64, want: u64) {
        assert!(got.abs_diff(want) <= 1, "{got} is not about {want}");
    }

    #[test]
    fn peak_holds_then_halves_every_half_life() {
        let t0 = Instant::now();
        assert_eq!(decayed(1000, t0, t0), 1000);
        assert_eq!(decayed(1000, t0, t0 + DECAY_HOLD), 1000);
        about(decayed(1000, t0, t0 + DECAY_HOLD + DECAY_HALF_LIFE), 500);
        about(decayed(1000, t0, t0 + DECAY_HOLD + 3 * DECAY_HALF_LIFE), 125);
        // Within 5 s of a burst, at least 90% of what it justified is gone.
        assert!(decayed(1000, t0, t0 + Duration::from_secs(5)) <= 100);
        // A clock that seems to go back does not inflate anything.
        assert_eq!(decayed(1000, t0 + DECAY_HALF_LIFE, t0), 1000);
    }

    #[test]
    fn busy_ticks_widen_and_look_at_the_clock_rarely() {
        let (mut interval, _) = tick(TICK);
        // Ticks in a row: too soon for the clock, and ever wider apart.
        let (next, look) = tick(interval);
        assert!(look.is_none() || cfg!(miri));
        if !cfg!(miri) {
            assert_eq!(next, (interval * 2).min(MAX_TICK));
        }
        for _ in 0..20 {
            interval = tick(interval).0;
        }
        assert!(interval == MAX_TICK || cfg!(miri));
    }
}
