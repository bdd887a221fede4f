-- Protective limits on by default (issue 17, item 4): a maximum qty per order and a daily loss
-- limit as a share of start-of-day equity join the stored limit layers. Their engine defaults
-- (1000 shares, 5%) and the price collar's (price_band_pct, 10%) come from configuration; an
-- admin's value for a user replaces them, the user's and a bot's only tighten.
alter table risk_limits
  add column max_order_qty numeric
    check (max_order_qty >= 0 and max_order_qty = round(max_order_qty, 9)),
  add column daily_loss_pct numeric
    check (daily_loss_pct between 0 and 100 and daily_loss_pct = round(daily_loss_pct, 9));
