-- Totals /metrics reads instead of scanning the runs and steps tables on each scrape (postgres):
-- completed runs by conclusion (metric 'runs', label the conclusion) and the duration
-- histograms of runs and steps (metrics 'run_duration' and 'step_duration', label the bucket's
-- index in ferry_store::DURATION_BUCKETS_MS, whose bounds the CASE below repeats; '10' takes the
-- rest). The store adds to them in the transaction that completes a run or a step; this
-- migration counts what completed before.
CREATE TABLE metric_totals (
    metric TEXT    NOT NULL,
    label  TEXT    NOT NULL,
    n      BIGINT NOT NULL,
    sum_ms BIGINT NOT NULL,
    PRIMARY KEY (metric, label)
);

INSERT INTO metric_totals (metric, label, n, sum_ms)
SELECT 'runs', conclusion, COUNT(*), 0 FROM runs WHERE conclusion IS NOT NULL GROUP BY conclusion;

INSERT INTO metric_totals (metric, label, n, sum_ms)
SELECT 'run_duration', bucket, COUNT(*), CAST(COALESCE(SUM(duration), 0) AS BIGINT)
FROM (SELECT finished_at - started_at AS duration, CASE WHEN finished_at - started_at <= 100 THEN '0' WHEN finished_at - started_at <= 500 THEN '1' WHEN finished_at - started_at <= 1000 THEN '2' WHEN finished_at - started_at <= 5000 THEN '3' WHEN finished_at - started_at <= 10000 THEN '4' WHEN finished_at - started_at <= 30000 THEN '5' WHEN finished_at - started_at <= 60000 THEN '6' WHEN finished_at - started_at <= 300000 THEN '7' WHEN finished_at - started_at <= 900000 THEN '8' WHEN finished_at - started_at <= 3600000 THEN '9' ELSE '10' END AS bucket
      FROM runs WHERE status = 'completed' AND started_at IS NOT NULL AND finished_at IS NOT NULL) AS completed
GROUP BY bucket;

INSERT INTO metric_totals (metric, label, n, sum_ms)
SELECT 'step_duration', bucket, COUNT(*), CAST(COALESCE(SUM(duration), 0) AS BIGINT)
FROM (SELECT finished_at - started_at AS duration, CASE WHEN finished_at - started_at <= 100 THEN '0' WHEN finished_at - started_at <= 500 THEN '1' WHEN finished_at - started_at <= 1000 THEN '2' WHEN finished_at - started_at <= 5000 THEN '3' WHEN finished_at - started_at <= 10000 THEN '4' WHEN finished_at - started_at <= 30000 THEN '5' WHEN finished_at - started_at <= 60000 THEN '6' WHEN finished_at - started_at <= 300000 THEN '7' WHEN finished_at - started_at <= 900000 THEN '8' WHEN finished_at - started_at <= 3600000 THEN '9' ELSE '10' END AS bucket
      FROM steps WHERE status = 'completed' AND started_at IS NOT NULL AND finished_at IS NOT NULL) AS completed
GROUP BY bucket;
