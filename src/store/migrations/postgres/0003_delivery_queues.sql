-- Deliveries go out in order per (target, member): a member's next notice to an endpoint waits
-- until the one before it is delivered or abandoned. Each delivery names its member, so the
-- queue's head is found from one index of the deliveries still pending.
ALTER TABLE deliveries ADD COLUMN member_id BIGINT REFERENCES members (id);
UPDATE deliveries SET member_id = (SELECT member_id FROM notices WHERE notices.id = deliveries.notice_id);
ALTER TABLE deliveries ALTER COLUMN member_id SET NOT NULL;
CREATE INDEX deliveries_queue ON deliveries (target, member_id, id)
    WHERE delivered_at IS NULL AND abandoned_at IS NULL;
