DROP TABLE changes;
DELETE FROM settings WHERE key = 'changes_pruned_through';
