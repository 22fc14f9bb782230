// The client of seed 000's "REST API" sample: pays the translate example with x402Client.
// Its wallet is the funded buyer of the running `402x dev` (run it from the same folder), or
// X402_PRIVATE_KEY. The seed's URL is https://api.example.com/translate; this one is local.
import { x402Client } from '402x-client'

const url = process.env.TRANSLATE_URL ?? 'http://localhost:3005/api/translate'

const response = await x402Client.post(url, {
  text: 'Hello, world!',
  targetLang: 'es',
})

console.log(response.data.translation) // "¡Hola, mundo!"
console.log(`paid $${response.receipt?.price} in transaction ${response.receipt?.transaction}`)
