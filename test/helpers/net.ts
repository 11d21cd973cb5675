// A TCP listener on loopback for connect tests: accepts and closes at once.
import {createServer, type Server} from 'node:net'

export function listen(host: string): Promise<{server: Server; port: number}> {
  return new Promise((resolve, reject) => {
    const server = createServer((s) => s.end())
    server.on('error', reject)
    server.listen(0, host, () => {
      const addr = server.address()
      if (typeof addr !== 'object' || !addr) return reject(new Error('no address'))
      resolve({server, port: addr.port})
    })
  })
}
