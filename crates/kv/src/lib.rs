//! Paged KV bookkeeping: block pool, block tables, radix prefix tree (pure logic)
