// Crashes at start, every time: PM2 ends it `errored`.
throw new Error('crash at start');
