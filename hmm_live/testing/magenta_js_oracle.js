// Runs @magenta/music's MusicVAE (pure-JS CPU backend) on one JSON job and
// writes the results as JSON. Used by hmm_live's conformance tests and
// benchmarks as the reference implementation. Usage: node oracle.js JOB OUT
//
// Multitrack models (variable-length segments) encode one sequence at a time, as
// magenta-js requires. Decoded labels: one class per step; with job.split_depths (a trio), one per
// instrument, [n, steps, instruments]; with job.multi_label (a NADE), the bit
// mask of the classes on.
const fs = require('fs');
const tf = require('@tensorflow/tfjs');
const mm = require('@magenta/music/node/music_vae');

function now() { return Number(process.hrtime.bigint()) / 1e6; }

async function labelsOf(decoded, job) {
  if (job.multi_label) {  // [n, steps, classes] of 0/1 -> bit masks
    const depth = decoded.shape[2];
    const weights = tf.pow(2, tf.range(0, depth)).reshape([1, 1, depth]);
    return await decoded.mul(weights).sum(2).round().array();
  }
  if (job.split_depths) {  // one argmax per instrument
    const parts = tf.split(decoded, job.split_depths, 2).map(p => p.argMax(2));
    return await tf.stack(parts, 2).array();
  }
  return await decoded.argMax(2).array();
}

async function main() {
  const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const started = now();
  const model = new mm.MusicVAE(job.url);
  await model.initialize();
  const out = {load_ms: now() - started};
  // job.extra_controls: {name: [steps, depth]}, magenta-js's extraControls
  const extraControls = job.extra_controls ? Object.fromEntries(
      Object.entries(job.extra_controls).map(([name, v]) => [name, tf.tensor2d(v)])) : undefined;
  const controlArgs = job.chords || extraControls ?
      {chordProgression: job.chords || undefined, extraControls} : undefined;
  // magenta-js encodes variable-length segments (multitrack) one sequence at a time
  const oneByOne = !!model.dataConverter.endTensor;
  async function encodeEach(encode, items) {
    if (!oneByOne) return await (await encode(items)).array();
    const mus = [];
    for (const item of items) mus.push((await (await encode([item])).array())[0]);
    return mus;
  }
  if (job.inputs) {  // encoder input tensors, [n, steps, depth]
    out.mu = await encodeEach(x => model.encodeTensors(tf.tensor3d(x), controlArgs), job.inputs);
  }
  if (job.sequences) {  // quantised NoteSequences as {notes, totalQuantizedSteps, stepsPerQuarter}
    const seqs = job.sequences.map(s => ({
      notes: s.notes.map(([pitch, start, end, isDrum, program, instrument, velocity, startTime]) => ({
        pitch, quantizedStartStep: start, quantizedEndStep: end, isDrum: !!isDrum, program: program || 0,
        instrument: instrument || 0, velocity: velocity === undefined ? 100 : velocity, startTime})),
      totalQuantizedSteps: s.totalQuantizedSteps,
      quantizationInfo: {stepsPerQuarter: s.stepsPerQuarter || 4}}));
    out.sequence_mu = await encodeEach(x => model.encode(x, controlArgs), seqs);
    if (oneByOne) {  // the converter's tokens, -1 for rows of zeros
      out.tokens = seqs.map(s => {
        const t = model.dataConverter.toTensor(s);
        const top = t.max(1).arraySync();
        return t.argMax(1).arraySync().map((token, i) => top[i] ? token : -1);
      });
    }
  }
  if (job.z) {  // greedy decode: class labels and NoteSequences
    const z = tf.tensor2d(job.z);
    const oh = await model.decodeTensors(z, undefined, controlArgs);
    out.labels = await labelsOf(oh, job);
    const seqs = await model.decode(z, undefined, controlArgs);
    out.notes = seqs.map(s => s.notes.map(n => [n.pitch, n.quantizedStartStep, n.quantizedEndStep]));
    out.instruments = seqs.map(s => s.notes.map(n => [n.instrument || 0, n.program || 0, !!n.isDrum]));
  }
  if (job.timed_sequences) {  // unquantised NoteSequences, notes as [pitch, start s, end s, velocity, isDrum]
    const seqs = job.timed_sequences.map(s => ({
      notes: s.notes.map(([pitch, startTime, endTime, velocity, isDrum]) => ({
        pitch, startTime, endTime, velocity, isDrum: !!isDrum})),
      tempos: [{time: 0, qpm: s.qpm}], totalTime: s.totalTime}));
    out.converted = seqs.map(s => model.dataConverter.toTensor(s).arraySync());
    const mu = await model.encode(seqs, controlArgs);
    out.timed_mu = await mu.array();
  }
  if (job.decode_outputs) {  // greedy decode: the decoder's output tensors, and notes with times
    const z = tf.tensor2d(job.decode_outputs);
    out.outputs = await (await model.decodeTensors(z, undefined, controlArgs)).array();
    const seqs = await model.decode(z, undefined, controlArgs);
    out.timed_notes = seqs.map(s => s.notes.map(n => [n.pitch, n.startTime, n.endTime, n.velocity]));
  }
  if (job.time_decode) {  // batch-1 greedy decode latency, ms per call, after job.warmup untimed calls
    const z = tf.randomNormal([1, model.decoder.zDims]);
    out.decode_ms = [];
    for (let i = -(job.warmup || 0); i < job.time_decode; ++i) {
      const t0 = now();
      const oh = await model.decodeTensors(z, undefined, controlArgs);
      await oh.data();
      if (i >= 0) out.decode_ms.push(now() - t0);
      oh.dispose();
    }
  }
  if (job.time_encode) {  // encode throughput: seconds for one batch of inputs
    const x = tf.tensor3d(job.time_encode);
    const t0 = now();
    const mu = await model.encodeTensors(x, controlArgs);
    await mu.data();
    out.encode_s = (now() - t0) / 1000;
  }
  fs.writeFileSync(process.argv[3], JSON.stringify(out));
}

main().catch(e => { console.error(e && e.stack || e); process.exit(1); });
