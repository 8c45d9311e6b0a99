-- Deliveries go out in order per (target, member): a member's next notice to an endpoint waits
-- until the one before it is delivered or abandoned. Each delivery names its member, so the
-- head of a queue is found from one small index over the deliveries still pending. Only those
-- need the member filled in: finished deliveries are never queued again.
ALTER TABLE deliveries ADD COLUMN member_id INTEGER;
UPDATE deliveries SET member_id = (SELECT member_id FROM notices WHERE notices.id = deliveries.notice_id)
    WHERE delivered_at IS NULL AND abandoned_at IS NULL;
CREATE INDEX deliveries_queue ON deliveries (target, member_id, id)
    WHERE delivered_at IS NULL AND abandoned_at IS NULL;
-- Pending deliveries still without their member: written by a replica of the release before
-- this one that was still running; the workers fill them in. Empty in the normal course.
CREATE INDEX deliveries_unqueued ON deliveries (id)
    WHERE member_id IS NULL AND delivered_at IS NULL AND abandoned_at IS NULL;
