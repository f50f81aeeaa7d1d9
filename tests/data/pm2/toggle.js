// Crashes at start while the file named by CRASH_FLAG exists, runs normally otherwise.
const fs = require('fs');
if (process.env.CRASH_FLAG && fs.existsSync(process.env.CRASH_FLAG)) {
  throw new Error('crash flag is set');
}
setInterval(() => {}, 1000);
