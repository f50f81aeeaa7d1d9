// A healthy HTTP server on the port PM2 hands it (PORT), on loopback.
const http = require('http');
const server = http.createServer((req, res) => res.end('ok\n'));
server.listen(Number(process.env.PORT || 0), '127.0.0.1');
