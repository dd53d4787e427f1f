// Ferry's pages, the live parts: calls to the JSON API (with the session cookie and the
// `X-Ferry-CSRF` header the server requires of cookie-authenticated writes), the "Run
// workflow" form, the Cancel and Re-run buttons, durations that count up, and refreshes of
// the runs list and of a run while they are not completed. The server renders every page;
// when the API says something changed, the changed sections are swapped for a fresh copy.
'use strict';

(() => {
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  async function api(method, path, body) {
    const headers = { Accept: 'application/json' };
    if (method !== 'GET' && method !== 'HEAD') headers['X-Ferry-CSRF'] = '1';
    const init = { method, headers, credentials: 'same-origin' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await fetch(path, init);
    const text = await res.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (!res.ok) throw new Error(json?.error || `${res.status} ${res.statusText}`);
    return json;
  }

  function flash(message) {
    const box = document.getElementById('flash');
    if (!box) return;
    box.textContent = message;
    box.hidden = !message;
  }

  // As format.rs writes them.
  function duration(ms) {
    const secs = Math.max(0, Math.floor(ms / 1000));
    const pad = (n) => String(n).padStart(2, '0');
    if (secs < 60) return `${secs}s`;
    if (secs < 3600) return `${Math.floor(secs / 60)}m ${pad(secs % 60)}s`;
    return `${Math.floor(secs / 3600)}h ${pad(Math.floor((secs % 3600) / 60))}m`;
  }

  function state(status, conclusion) {
    if (conclusion) return conclusion;
    return { queued: 'queued', in_progress: 'running', completed: 'completed' }[status] || 'waiting';
  }

  function tick() {
    for (const node of document.querySelectorAll('[data-since]')) {
      node.textContent = duration(Date.now() - Number(node.dataset.since));
    }
  }

  // Replaces the elements with these ids by their copies in a fresh render of this page.
  async function swap(ids) {
    const res = await fetch(location.href, { headers: { Accept: 'text/html' }, credentials: 'same-origin' });
    if (!res.ok) return;
    const fresh = new DOMParser().parseFromString(await res.text(), 'text/html');
    for (const id of ids) {
      const now = document.getElementById(id);
      const next = fresh.getElementById(id);
      if (now && next) now.replaceWith(document.adoptNode(next));
    }
    tick();
  }

  // -- /ui/projects/{name} --------------------------------------------------------------

  function parseInputs(text) {
    const inputs = {};
    for (const [n, raw] of text.split('\n').entries()) {
      const line = raw.trim();
      if (!line) continue;
      const eq = line.indexOf('=');
      if (eq <= 0) throw new Error(`input line ${n + 1} is not key=value: ${line}`);
      inputs[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
    }
    return inputs;
  }

  function initTrigger(form) {
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const button = form.querySelector('button[type=submit]');
      button.disabled = true;
      try {
        const workflow = form.elements.workflow.value.trim();
        const gitRef = form.elements.ref.value.trim();
        const body = { workflow: workflow || null, git_ref: gitRef || null, inputs: parseInputs(form.elements.inputs.value) };
        const res = await api('POST', `/api/v1/projects/${encodeURIComponent(form.dataset.project)}/trigger`, body);
        if (res.runs.length === 1) location.assign(`/ui/runs/${res.runs[0].id}`);
        else if (res.runs.length > 1) location.reload();
        else flash('No workflow on that ref runs on workflow_dispatch.');
      } catch (error) {
        flash(`Could not start the run: ${error.message}`);
      } finally {
        button.disabled = false;
      }
    });
  }

  const runsSignature = (runs) => runs.map((run) => `${run.id}:${run.status}:${run.conclusion || ''}`).join(',');

  async function pollRuns(section) {
    const project = section.dataset.project;
    // An older page is polled as itself: `?before=` keeps it the same runs.
    const before = section.dataset.before ? `&before=${encodeURIComponent(section.dataset.before)}` : '';
    let last = section.dataset.signature;
    for (;;) {
      await sleep(3000);
      let runs;
      try {
        runs = await api('GET', `/api/v1/projects/${encodeURIComponent(project)}/runs?limit=50${before}`);
      } catch {
        continue;
      }
      const signature = runsSignature(runs);
      if (signature !== last) await swap(['runs']);
      last = signature;
      if (runs.every((run) => run.status === 'completed')) return;
    }
  }

  // -- /ui/runs/{id} ----------------------------------------------------------------------

  const runSignature = (detail) =>
    [
      `${detail.run.status}:${detail.run.conclusion || ''}`,
      ...detail.jobs.map((job) => `${job.id}:${job.status}:${job.conclusion || ''}`),
      ...detail.planned.map((job) => `${job.key}:${job.state}`),
    ].join(',');

  // The step section `idx` of the job panel, made (in order) when the page has none yet.
  function ensureStep(idx) {
    const steps = document.getElementById('steps');
    let section = steps.querySelector(`.step[data-step-idx="${idx}"]`);
    if (section) return section;
    section = document.createElement('details');
    section.className = 'step';
    section.open = true;
    section.dataset.stepIdx = String(idx);
    section.dataset.state = 'running';
    const summary = document.createElement('summary');
    const dot = document.createElement('span');
    dot.className = 'dot';
    const name = document.createElement('span');
    name.className = 'step-name';
    name.textContent = `Step ${idx + 1}`;
    const dur = document.createElement('span');
    dur.className = 'dur';
    summary.append(dot, name, dur);
    const lines = document.createElement('div');
    lines.className = 'lines';
    section.append(summary, lines);
    const after = [...steps.querySelectorAll('.step')].find((other) => Number(other.dataset.stepIdx) > idx);
    steps.insertBefore(section, after || null);
    return section;
  }

  function updateSteps(job) {
    for (const step of job.steps) {
      const section = ensureStep(step.step_idx);
      section.dataset.state = state(step.status, step.conclusion);
      section.querySelector('.step-name').textContent = step.name;
      const dur = section.querySelector('.dur');
      if (step.started_at && !step.finished_at) {
        dur.dataset.since = String(step.started_at);
      } else {
        delete dur.dataset.since;
        dur.textContent = step.started_at ? duration(step.finished_at - step.started_at) : '';
      }
    }
  }

  async function pollRun(header) {
    const runId = header.dataset.runId;
    let last = header.dataset.signature;
    for (;;) {
      let detail;
      try {
        detail = await api('GET', `/api/v1/runs/${runId}`);
      } catch {
        await sleep(1000);
        continue;
      }
      const panel = document.getElementById('job');
      const job = panel && detail.jobs.find((job) => String(job.id) === panel.dataset.jobId);
      if (job) updateSteps(job);
      const signature = runSignature(detail);
      if (signature !== last) await swap(['run-header', 'graph', 'job-header']);
      last = signature;
      if (detail.run.status === 'completed') return;
      await sleep(1000);
    }
  }

  async function runAction(button) {
    if (button.dataset.action === 'resolve-incident' || button.dataset.action === 'ack-incident') {
      const verb = button.dataset.action === 'ack-incident' ? 'ack' : 'resolve';
      button.disabled = true;
      try {
        await api('POST', `/api/v1/incidents/${button.dataset.incidentId}/${verb}`, {});
        location.reload();
      } catch (error) {
        flash(`${verb === 'ack' ? 'Acknowledge' : 'Resolve'} failed: ${error.message}`);
        button.disabled = false;
      }
      return;
    }
    if (button.dataset.action === 'approve-deployment') {
      button.disabled = true;
      try {
        await api('POST', `/api/v1/deployments/${button.dataset.deploymentId}/approve`, {});
        location.reload();
      } catch (error) {
        flash(`Approve failed: ${error.message}`);
        button.disabled = false;
      }
      return;
    }
    const runId = document.getElementById('run-header').dataset.runId;
    button.disabled = true;
    try {
      if (button.dataset.action === 'cancel' || button.dataset.action === 'approve') {
        await api('POST', `/api/v1/runs/${runId}/${button.dataset.action}`);
        flash('');
        await swap(['run-header']);
      } else {
        const run = await api('POST', `/api/v1/runs/${runId}/rerun`, { failed_only: button.dataset.failedOnly === 'true' });
        location.assign(`/ui/runs/${run.id}`);
      }
    } catch (error) {
      flash(`${button.textContent.trim()} failed: ${error.message}`);
      button.disabled = false;
    }
  }

  // -- start ---------------------------------------------------------------------------------

  document.addEventListener('click', (event) => {
    const button = event.target.closest('button[data-action]');
    if (button) runAction(button);
  });
  setInterval(tick, 1000);

  const trigger = document.getElementById('trigger');
  if (trigger) initTrigger(trigger);
  const runs = document.getElementById('runs');
  if (runs && runs.dataset.active === 'true') pollRuns(runs);
  const header = document.getElementById('run-header');
  if (header) {
    const panel = document.getElementById('job');
    if (panel) FerryLog.follow(panel, panel.dataset.runId, panel.dataset.jobId, ensureStep);
    if (header.dataset.status !== 'completed') pollRun(header);
  }
})();
