-- Audit checkpoints: each chain's newest row (chain, seq, hash), read by the engine at start
-- and every hour and logged, so an operator who ships logs elsewhere holds an outside copy
-- of every chain's head. Removing a chain's newest rows, or rewriting a chain and recomputing
-- its hashes, is detectable only against such a copy (`tradewind audit verify --checkpoint`).
-- SECURITY DEFINER: the engine's role reads only the heads, not other traders' rows. One index
-- probe per chain (a loose scan of execution_logs_user_seq), not a scan of the trail.
create function tradewind_audit_heads()
  returns table (chain text, username text, seq bigint, hash text)
  language sql stable security definer set search_path = public
  as $$
    with recursive chains (user_id) as (
      (select user_id from execution_logs where user_id is not null order by user_id limit 1)
      union all
      select (select l.user_id from execution_logs l
              where l.user_id > c.user_id order by l.user_id limit 1)
      from chains c
      where c.user_id is not null
    )
    select 'system', null, s.seq, s.hash
    from (select seq, hash from execution_logs where user_id is null order by seq desc limit 1) s
    union all
    select c.user_id::text, u.username, h.seq, h.hash
    from chains c
    cross join lateral (select l.seq, l.hash from execution_logs l
                        where l.user_id = c.user_id order by l.seq desc limit 1) h
    left join users u on u.id = c.user_id
    where c.user_id is not null
  $$;
revoke all on function tradewind_audit_heads() from public;
grant execute on function tradewind_audit_heads() to tradewind_app;
