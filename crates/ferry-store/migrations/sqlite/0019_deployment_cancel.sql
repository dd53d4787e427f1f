-- A deployment in progress can be cancelled: the request (who asked, in words) is kept until
-- its agent has stopped it and reported the outcome.
ALTER TABLE deployments ADD COLUMN cancel_requested TEXT;
