// Runs for a second, then exits: PM2 keeps restarting it and its restart count grows.
setTimeout(() => process.exit(1), 1000);
