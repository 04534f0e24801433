//! The terminal bars drawn into an in-memory terminal.

use super::*;
use indicatif::TermLike;
use std::sync::Arc;

/// A terminal that keeps every line drawn on it.
#[derive(Debug, Default, Clone)]
struct Screen(Arc<Mutex<Vec<String>>>);

impl Screen {
    fn lines(&self) -> Vec<String> {
        self.0.lock().map(|l| l.clone()).unwrap_or_default()
    }
    fn push(&self, s: &str) {
        if let Ok(mut l) = self.0.lock() {
            l.push(s.to_string());
        }
    }
}

impl TermLike for Screen {
    fn width(&self) -> u16 {
        100
    }
    fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
        Ok(())
    }
    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.push(s);
        Ok(())
    }
    fn write_str(&self, s: &str) -> std::io::Result<()> {
        self.push(s);
        Ok(())
    }
    fn clear_line(&self) -> std::io::Result<()> {
        Ok(())
    }
    fn flush(&self) -> std::io::Result<()> {
        Ok(())
    }
}

fn started(host: &str, step: &str) -> Event {
    Event::StepStarted {
        host: host.into(),
        phase: "prepare".into(),
        step: step.into(),
    }
}

fn finished(host: &str, step: &str, status: StepStatus, detail: &str) -> Event {
    Event::StepFinished {
        host: host.into(),
        phase: "prepare".into(),
        step: step.into(),
        status,
        detail: detail.into(),
    }
}

#[test]
fn bars_show_each_host_its_step_and_what_changed() {
    let screen = Screen::default();
    let bars = Bars::with_target(ProgressDrawTarget::term_like(Box::new(screen.clone())));
    bars.event(&Event::PhaseStarted {
        phase: "prepare".into(),
        hosts: 2,
        steps: 2,
    });
    bars.event(&started("k8s-node1", "/etc/hosts"));
    bars.event(&finished(
        "k8s-node1",
        "/etc/hosts",
        StepStatus::Changed,
        "content updated (42 bytes)\nsecond line",
    ));
    bars.event(&started("k8s-node2", "/etc/hosts"));
    bars.event(&finished(
        "k8s-node2",
        "/etc/hosts",
        StepStatus::Unchanged,
        "",
    ));
    bars.event(&started("k8s-node2", "unit chronyd.service"));
    bars.event(&finished(
        "k8s-node2",
        "unit chronyd.service",
        StepStatus::Failed,
        "systemctl exited with status 5",
    ));
    bars.event(&Event::HostStopped {
        host: "k8s-node2".into(),
        phase: "prepare".into(),
    });
    let all = screen.lines().join("\n");
    assert!(all.contains("==> prepare"), "{all}");
    // Each host has its bar, counted against the phase's steps from the first step on.
    assert!(
        all.lines()
            .any(|l| l.contains("k8s-node1") && l.contains("1/2")),
        "{all}"
    );
    assert!(
        all.lines()
            .any(|l| l.contains("k8s-node2") && l.contains("2/2")),
        "{all}"
    );
    assert!(!all.contains("2/1") && !all.contains("1/1"), "{all}");
    // Changes and failures are printed above the bars, first line of the detail only;
    // unchanged steps are not.
    assert!(
        all.contains("[k8s-node1] changed: /etc/hosts content updated (42 bytes)"),
        "{all}"
    );
    assert!(!all.contains("second line"), "{all}");
    assert!(
        all.contains("[k8s-node2] FAILED: unit chronyd.service systemctl exited with status 5"),
        "{all}"
    );
    assert!(!all.contains("[k8s-node2] ok"), "{all}");
    assert!(all.contains("stopped after a failure"), "{all}");
}
