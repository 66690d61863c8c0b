//! Local runs persisted in sqlite, so `approvalc run`, `approve`, `status` and `runs` work
//! across invocations (and terminals).
//!
//! One row per run holds the artifacts it was started with (so it keeps running what it
//! started with, whatever happens to the workflow file), the faults, and the world's state as
//! JSON; a `decisions` table keeps an audit line per decision. Every change runs in one
//! `BEGIN IMMEDIATE` transaction: read the state, restore the world, apply, write back (with
//! the audit line of a decision in the same transaction). Commands that only look
//! ([`Store::observe`]) write nothing unless a timer fell due.
//! sqlite's write lock makes concurrent commands take turns, so two terminals can neither
//! lose each other's decision nor decide one request twice (the second finds it decided),
//! and a process killed mid-change leaves the previous state (the journal rolls it back).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

use crate::deployment::{Deployment, Faults};
use crate::error::LocalError;
use crate::report::RunReport;
use crate::world::{World, WorldState};

/// The sqlite file inside the state directory.
pub const DB_FILE: &str = "runs.sqlite3";

/// How long a command waits for another one holding the write lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The run store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    hooks: CrashHooks,
}

/// Test hooks that put a process into the middle of a change, so tests can kill it there
/// (`crates/cli/tests/local.rs`). Both act after the new state is written and before the
/// commit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CrashHooks {
    /// Abort the process there, as a crash would.
    pub abort_before_commit: bool,
    /// Announce on stderr, then sleep this long holding the write lock (a test kills the
    /// process with SIGKILL meanwhile, or starts competing deciders).
    pub hold_before_commit: Option<Duration>,
}

/// One line of the audit table, written in the same transaction as the decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditLine<'a> {
    pub stage: &'a str,
    pub principal: &'a str,
    pub verdict: &'a str,
    pub comment: Option<&'a str>,
}

/// A decision as the audit table keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRow {
    pub at_ms: i64,
    pub stage: String,
    pub principal: String,
    pub verdict: String,
    pub comment: Option<String>,
}

/// One line of `approvalc runs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunRow {
    pub id: String,
    pub workflow: String,
    pub source: String,
    pub status: String,
    pub decision: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub version: i64,
}

/// What `run` records about a new run besides its world.
#[derive(Debug, Clone)]
pub struct NewRun<'a> {
    pub source: &'a str,
    pub files: &'a [(String, String)],
    pub faults: &'a Faults,
}

impl Store {
    /// Opens (and creates) the store in `dir`.
    pub fn open(dir: &Path) -> Result<Self, LocalError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| LocalError::Store(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join(DB_FILE);
        let conn = Connection::open(&path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS runs (
                id TEXT PRIMARY KEY,
                workflow TEXT NOT NULL,
                source TEXT NOT NULL,
                status TEXT NOT NULL,
                decision TEXT,
                created_ms INTEGER NOT NULL,
                updated_ms INTEGER NOT NULL,
                version INTEGER NOT NULL,
                faults TEXT NOT NULL,
                artifacts TEXT NOT NULL,
                state TEXT NOT NULL
            );
            CREATE TABLE IF NOT EXISTS decisions (
                run_id TEXT NOT NULL REFERENCES runs(id),
                at_ms INTEGER NOT NULL,
                stage TEXT NOT NULL,
                principal TEXT NOT NULL,
                verdict TEXT NOT NULL,
                comment TEXT
            );",
        )?;
        Ok(Self {
            conn,
            path,
            hooks: CrashHooks::default(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sets the crash-test hooks.
    pub fn set_hooks(&mut self, hooks: CrashHooks) {
        self.hooks = hooks;
    }

    /// Stores a new run.
    pub fn create(&mut self, run: &NewRun<'_>, world: &World) -> Result<(), LocalError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let id = &world.config().run_id;
        let exists: Option<String> = tx
            .query_row("SELECT id FROM runs WHERE id = ?1", [id], |r| r.get(0))
            .optional()?;
        if exists.is_some() {
            return Err(LocalError::RunExists(id.clone()));
        }
        let report = RunReport::of(world);
        tx.execute(
            "INSERT INTO runs (id, workflow, source, status, decision, created_ms, updated_ms, version, faults, artifacts, state)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, 1, ?7, ?8, ?9)",
            params![
                id,
                report.workflow,
                run.source,
                report.status,
                report.decision,
                world.config().start_ms,
                serde_json::to_string(run.faults)?,
                serde_json::to_string(run.files)?,
                serde_json::to_string(&world.state())?,
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn read(conn: &Connection, id: &str) -> Result<(World, i64), LocalError> {
        let row: Option<(String, String, String, i64)> = conn
            .query_row(
                "SELECT faults, artifacts, state, version FROM runs WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let Some((faults, files, state, version)) = row else {
            return Err(LocalError::NoSuchRun(id.to_owned()));
        };
        let faults: Faults = serde_json::from_str(&faults)?;
        let files: Vec<(String, String)> = serde_json::from_str(&files)?;
        let state: WorldState = serde_json::from_str(&state)?;
        let deployment = Arc::new(Deployment::from_files(&files, faults)?);
        Ok((World::restore(deployment, state)?, version))
    }

    /// The run as stored (no clock change).
    pub fn load(&self, id: &str) -> Result<World, LocalError> {
        Self::read(&self.conn, id).map(|(w, _)| w)
    }

    /// Brings the run to `now_ms` (timeouts fire), applies `change`, stores the result, all
    /// under the write lock. `change` failing leaves the run as it was.
    pub fn update<T>(
        &mut self,
        id: &str,
        now_ms: i64,
        change: impl FnOnce(&mut World) -> Result<T, LocalError>,
    ) -> Result<(T, RunReport), LocalError> {
        self.update_audited(id, now_ms, change, None)
    }

    /// [`Store::update`] that also appends `audit` to the decisions table in the same
    /// transaction: the decision and its audit line are written together or not at all.
    pub fn update_audited<T>(
        &mut self,
        id: &str,
        now_ms: i64,
        change: impl FnOnce(&mut World) -> Result<T, LocalError>,
        audit: Option<AuditLine<'_>>,
    ) -> Result<(T, RunReport), LocalError> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let (mut world, version) = Self::read(&tx, id)?;
        if now_ms > world.now_ms() && !world.is_finished() {
            world.advance_to(now_ms);
        }
        let out = change(&mut world)?;
        let report = RunReport::of(&world);
        let changed = tx.execute(
            "UPDATE runs SET state = ?1, status = ?2, decision = ?3, updated_ms = ?4, version = version + 1
             WHERE id = ?5 AND version = ?6",
            params![
                serde_json::to_string(&world.state())?,
                report.status,
                report.decision,
                world.now_ms(),
                id,
                version
            ],
        )?;
        if changed != 1 {
            return Err(LocalError::Conflict);
        }
        if let Some(line) = audit {
            tx.execute(
                "INSERT INTO decisions (run_id, at_ms, stage, principal, verdict, comment) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![id, world.now_ms(), line.stage, line.principal, line.verdict, line.comment],
            )?;
        }
        before_commit(self.hooks);
        tx.commit()?;
        Ok((out, report))
    }

    /// The run as of `now_ms` for someone who only looks (`status`, `run --wait`): when a
    /// timer fell due meanwhile the run is brought forward and stored (as
    /// [`Store::update`]); otherwise nothing is written, so watchers never contend with
    /// deciders for the write lock or bump the run's version.
    pub fn observe<T>(
        &mut self,
        id: &str,
        now_ms: i64,
        look: impl Fn(&World) -> T,
    ) -> Result<(T, RunReport), LocalError> {
        let world = self.load(id)?;
        let due = !world.is_finished() && world.next_timer_ms().is_some_and(|t| t <= now_ms);
        if due {
            return self.update(id, now_ms, |w| Ok(look(w)));
        }
        Ok((look(&world), RunReport::of(&world)))
    }

    /// The audit lines of a run, oldest first.
    pub fn decisions(&self, id: &str) -> Result<Vec<AuditRow>, LocalError> {
        let mut stmt = self.conn.prepare(
            "SELECT at_ms, stage, principal, verdict, comment FROM decisions WHERE run_id = ?1 ORDER BY rowid",
        )?;
        let rows = stmt
            .query_map([id], |r| {
                Ok(AuditRow {
                    at_ms: r.get(0)?,
                    stage: r.get(1)?,
                    principal: r.get(2)?,
                    verdict: r.get(3)?,
                    comment: r.get(4)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Every run, newest first.
    pub fn list(&self) -> Result<Vec<RunRow>, LocalError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, workflow, source, status, decision, created_ms, updated_ms, version FROM runs ORDER BY created_ms DESC, id",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok(RunRow {
                    id: r.get(0)?,
                    workflow: r.get(1)?,
                    source: r.get(2)?,
                    status: r.get(3)?,
                    decision: r.get(4)?,
                    created_ms: r.get(5)?,
                    updated_ms: r.get(6)?,
                    version: r.get(7)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// `PRAGMA integrity_check` (tests after a killed process).
    pub fn integrity_ok(&self) -> Result<bool, LocalError> {
        let answer: String = self
            .conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
        Ok(answer == "ok")
    }
}

/// Runs the crash-test hooks between writing a change and committing it.
fn before_commit(hooks: CrashHooks) {
    if let Some(hold) = hooks.hold_before_commit {
        eprintln!(
            "test hook: holding the write lock for {} ms",
            hold.as_millis()
        );
        std::thread::sleep(hold);
    }
    if hooks.abort_before_commit {
        std::process::abort();
    }
}
