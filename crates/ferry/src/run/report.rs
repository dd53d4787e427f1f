//! The results of a run: what the summary shows and what `--report` writes as JSON.

use std::collections::HashMap;
use std::time::Duration;

use ferry_engine::{Driver, Flat, InstanceId, Role};
use ferry_model::Conclusion;
use ferry_runner::job::JobOutcome;
use ferry_workflow::model::StepKind;
use indexmap::IndexMap;
use serde_json::{Map, Value, json};

#[derive(Debug, Default)]
pub struct Report {
    pub jobs: IndexMap<String, JobReport>,
    conclusions: Vec<Conclusion>,
}

#[derive(Debug)]
pub struct JobReport {
    pub conclusion: Conclusion,
    pub outputs: Map<String, Value>,
    pub steps: Vec<StepReport>,
    pub error: Option<String>,
    pub elapsed: Duration,
}

#[derive(Debug)]
pub struct StepReport {
    pub id: Option<String>,
    pub name: String,
    pub outcome: Conclusion,
    pub conclusion: Conclusion,
}

impl Report {
    /// The report of one finished workflow run: the jobs of `flat` the driver ran (its job
    /// `job_idx` is `flat.jobs[job_indices[job_idx]]`). The jobs of a called workflow are
    /// reported under their names (`build / test`); the calling job only when it failed
    /// before any of them ran (an input it passes wrong, say).
    pub fn from_run(
        flat: &Flat,
        job_indices: &[usize],
        driver: &Driver,
        outcomes: &mut HashMap<InstanceId, JobOutcome>,
    ) -> Report {
        let scheduler = driver.scheduler();
        let mut report = Report::default();
        for (job_idx, &flat_idx) in job_indices.iter().enumerate() {
            let job = flat.jobs[flat_idx].job();
            let conclusion = scheduler.job_conclusion(job_idx).unwrap_or(Conclusion::Skipped);
            match flat.jobs[flat_idx].role {
                Role::Steps => {}
                Role::Enter(_) if conclusion == Conclusion::Failure => {}
                Role::Enter(_) | Role::Exit(_) => continue,
            }
            let skipped_steps = || -> Vec<StepReport> {
                job.steps
                    .iter()
                    .map(|step| StepReport {
                        id: step.id.as_ref().map(|id| id.value.clone()),
                        name: static_step_name(step),
                        outcome: Conclusion::Skipped,
                        conclusion: Conclusion::Skipped,
                    })
                    .collect()
            };
            let instances: Vec<_> = scheduler.instances().filter(|(_, idx, _, _)| *idx == job_idx).collect();
            if instances.is_empty() {
                let name = flat.display_name(flat_idx);
                let error = (conclusion == Conclusion::Failure).then(|| "the job could not be planned".to_owned());
                let job_report = JobReport {
                    conclusion,
                    outputs: Map::new(),
                    steps: skipped_steps(),
                    error,
                    elapsed: Duration::ZERO,
                };
                report.insert(name, job_report);
                continue;
            }
            for (instance, _, name, conclusion) in instances {
                let job_report = match outcomes.remove(&instance) {
                    // The job stopped before its first step: every step is reported skipped.
                    Some(outcome) if outcome.steps.is_empty() => JobReport {
                        conclusion: outcome.conclusion,
                        outputs: outcome.outputs,
                        steps: skipped_steps(),
                        error: outcome.error,
                        elapsed: Duration::ZERO,
                    },
                    Some(outcome) => JobReport {
                        conclusion: outcome.conclusion,
                        outputs: outcome.outputs,
                        elapsed: outcome.steps.iter().map(|step| step.elapsed).sum(),
                        steps: outcome
                            .steps
                            .into_iter()
                            .map(|step| StepReport {
                                id: step.id,
                                name: step.name,
                                outcome: step.outcome,
                                conclusion: step.conclusion,
                            })
                            .collect(),
                        error: outcome.error,
                    },
                    None => JobReport {
                        conclusion: conclusion.unwrap_or(Conclusion::Cancelled),
                        outputs: Map::new(),
                        steps: skipped_steps(),
                        error: None,
                        elapsed: Duration::ZERO,
                    },
                };
                report.insert(name.to_owned(), job_report);
            }
        }
        report.conclusions.push(driver.conclusion().unwrap_or(Conclusion::Cancelled));
        report
    }

    fn insert(&mut self, name: String, job: JobReport) {
        let mut key = name.clone();
        let mut n = 2;
        while self.jobs.contains_key(&key) {
            key = format!("{name} #{n}");
            n += 1;
        }
        self.jobs.insert(key, job);
    }

    /// Adds the jobs of another workflow run of the same `ferry run`.
    pub fn merge(&mut self, other: Report) {
        for (name, job) in other.jobs {
            self.insert(name, job);
        }
        self.conclusions.extend(other.conclusions);
    }

    /// The workflows' conclusions combined by the one rule for a run's
    /// ([`ferry_engine::run_conclusion`]): failure if any failed, else cancelled if any was
    /// cancelled, else success.
    pub fn conclusion(&self) -> Conclusion {
        ferry_engine::run_conclusion(false, self.conclusions.iter().copied())
    }

    pub fn to_json(&self) -> Value {
        let jobs: Map<String, Value> = self
            .jobs
            .iter()
            .map(|(name, job)| {
                let steps: Vec<Value> = job
                    .steps
                    .iter()
                    .map(|step| {
                        json!({"id": step.id, "name": step.name, "outcome": step.outcome, "conclusion": step.conclusion})
                    })
                    .collect();
                let mut entry = json!({"conclusion": job.conclusion, "outputs": job.outputs, "steps": steps});
                if let (Some(error), Some(entry)) = (&job.error, entry.as_object_mut()) {
                    entry.insert("error".to_owned(), Value::String(error.clone()));
                }
                (name.clone(), entry)
            })
            .collect();
        json!({"conclusion": self.conclusion(), "jobs": jobs})
    }
}

/// A step's name as written, for steps that never ran (so nothing was evaluated).
fn static_step_name(step: &ferry_workflow::model::Step) -> String {
    if let Some(name) = &step.name {
        return name.value.clone();
    }
    match &step.kind {
        StepKind::Run { run, .. } => {
            format!("Run {}", run.value.lines().find(|line| !line.trim().is_empty()).unwrap_or("").trim())
        }
        StepKind::Uses { uses, .. } => format!("Run {}", uses.value),
        _ => step.id.as_ref().map_or_else(|| "step".to_owned(), |id| id.value.clone()),
    }
}
