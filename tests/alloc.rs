//! What parsing costs in memory once a message has passed the structural
//! limits. A separate binary: it installs a counting global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use wsguard::schema::SchemaValidation;
use wsguard::{Guard, Message, Verdict};

/// Counts the bytes requested (not the allocator's own overhead) and the
/// peak of bytes live at once.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; the
// counters are only statistics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(layout.size(), Ordering::SeqCst) + layout.size();
        PEAK.fetch_max(live, Ordering::SeqCst);
        // SAFETY: same layout, as the caller guarantees for `alloc`.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::SeqCst);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Shapes that maximise parsed size per input byte, each just inside the
/// default structural limits and the 64 KiB message limit.
fn worst_cases() -> Vec<(&'static str, String)> {
    let many = |item: &str, per: usize| format!("[{}]", vec![item; per].join(","));
    let zeros = many("0", 1000);
    let empties = many("[]", 1000);
    let object = format!("{{{}}}", (0..250).map(|i| format!(r#""{i:x}":0"#)).collect::<Vec<_>>().join(","));
    let fill = |inner: &str| many(inner, (60 * 1024) / (inner.len() + 1));
    vec![
        ("arrays of zeros", fill(&zeros)),
        ("arrays of empty arrays", fill(&empties)),
        ("objects of small keys", fill(&object)),
        ("strings", fill(&many(r#""""#, 1000))),
    ]
}

#[test]
fn parsing_a_message_within_the_limits_allocates_at_most_24_times_its_size() {
    let schemas = SchemaValidation::builder().allow_unknown_types(true).build().unwrap();
    let guard = Guard::builder().without_auth().json_schema(schemas).build().unwrap();
    for (shape, text) in worst_cases() {
        assert!(text.len() <= 64 * 1024, "{shape}: {} bytes", text.len());
        let mut session = guard.new_session(None);
        let message = Message::text(text.clone());
        let before = LIVE.load(Ordering::SeqCst);
        PEAK.store(before, Ordering::SeqCst);
        let verdict = guard.inbound(message, &mut session);
        assert!(matches!(verdict, Verdict::Deliver(_)), "{shape} must pass the limits: {verdict:?}");
        let peak = PEAK.load(Ordering::SeqCst) - before;
        let ratio = peak as f64 / text.len() as f64;
        eprintln!("{shape}: {} bytes of text, peak {peak} bytes allocated ({ratio:.1}x)", text.len());
        assert!(ratio <= 24.0, "{shape}: {ratio:.1}x");
    }
}
