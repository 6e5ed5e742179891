// The browser side of hmm_live/ui/sound.py: plays the kernel's answers with Web Audio and
// sends a Web MIDI keyboard to the kernel. One audio engine per widget (not per view), kept in
// window.hmmLiveSound (by the widget's key; .last is the newest) for the console and the tests.

const PING_EVERY_MS = 500;
const KEEP_SAMPLES = 64; // of the kernel clock's offset: about the last half minute
const RELEASE_S = 0.12;
const KEEP_PLAYED = 1024; // the latest notes played: [kernel time, AudioContext start, late], for the console and the tests

function audioEngine(model) {
  const s = {
    ctx: null, master: null, samples: [], rate: 22050, drums: false,
    seen: [], offset: null, rtt: null, // kernel clock = performance clock (s) + offset
    scheduled: 0, late: 0, played: [], midiIn: 0, timer: null, midiAccess: null,
  };

  const report = (text) => { model.set("browser_status", text); model.save_changes(); };
  const describe = () => {
    if (!s.ctx || s.ctx.state !== "running") return "sound off: click to hear the answers in this browser";
    const sync = s.offset === null ? "syncing clocks"
      : `clock synced (round trip ${s.rtt === null ? "?" : (s.rtt * 1e3).toFixed(1)} ms)`;
    return `sound on (${s.samples.length ? "samples loaded" : "loading samples"}, ${sync}): ` +
      `${s.scheduled} notes played, ${s.late} late` + (s.midiAccess ? `; Web MIDI in: ${s.midiIn} messages` : "");
  };

  // performance time (s) -> AudioContext time, through the browser's own output timestamp
  const ctxTime = (perf) => {
    const ts = s.ctx.getOutputTimestamp();
    return ts.contextTime + (perf - ts.performanceTime / 1000);
  };

  const ping = () => model.send({ type: "ping", perf: performance.now() / 1000 });

  s.start = async () => {
    if (!s.ctx) {
      s.ctx = new AudioContext({ latencyHint: "interactive" });
      s.master = s.ctx.createGain();
      s.master.gain.value = model.get("volume");
      s.master.connect(s.ctx.destination);
    }
    await s.ctx.resume();
    model.send({ type: "ready" });
    if (!s.timer) {
      for (let i = 0; i < 8; i++) setTimeout(ping, 50 * i);
      s.timer = setInterval(() => { ping(); report(describe()); }, PING_EVERY_MS);
    }
    report(describe());
  };

  s.stop = async () => {
    if (s.ctx) await s.ctx.suspend();
    clearInterval(s.timer);
    s.timer = null;
    report(describe());
  };

  // Every message from the kernel says when it was sent (its clock). Sent at kernel time k and
  // received at performance time p, it shows offset >= k - p (it took some time to come): the
  // largest of these is the offset, less the quickest delivery (a ms or two on one machine).
  // Only this direction counts: the way to the kernel can wait behind a running cell.
  s.onKernelTime = (kernel) => {
    s.seen.push(kernel - performance.now() / 1000);
    if (s.seen.length > KEEP_SAMPLES) s.seen.shift();
    s.offset = Math.max(...s.seen);
  };

  s.onPong = (msg) => { s.rtt = performance.now() / 1000 - msg.perf; };

  s.onSamples = (msg, buffers) => {
    s.rate = msg.rate;
    s.drums = msg.drums;
    s.samples = msg.pitches.map((pitch, i) => {
      const view = buffers[i];
      const pcm = new Int16Array(view.buffer, view.byteOffset, view.byteLength / 2);
      const buffer = s.ctx.createBuffer(1, pcm.length, msg.rate);
      const channel = buffer.getChannelData(0);
      for (let j = 0; j < pcm.length; j++) channel[j] = pcm[j] / 32768;
      return { pitch, buffer };
    });
    report(describe());
  };

  const nearest = (pitch) => s.samples.reduce((a, b) => (Math.abs(b.pitch - pitch) < Math.abs(a.pitch - pitch) ? b : a));

  s.onNotes = (msg) => {
    if (!s.ctx || s.ctx.state !== "running" || !s.samples.length || s.offset === null) return;
    for (const [pitch, on, off, velocity] of msg.notes) {
      const sample = nearest(pitch);
      if (s.drums && sample.pitch !== pitch) continue; // no such drum in the kit
      let start = ctxTime(on - s.offset);
      const end = ctxTime(off - s.offset);
      const late = start < s.ctx.currentTime;
      if (late) { // it came after its time: played now, and counted
        s.late += 1;
        start = s.ctx.currentTime;
      }
      s.played.push([on, start, late]);
      if (s.played.length > KEEP_PLAYED) s.played.shift();
      const source = s.ctx.createBufferSource();
      source.buffer = sample.buffer;
      source.playbackRate.value = Math.pow(2, (pitch - sample.pitch) / 12);
      const gain = s.ctx.createGain();
      gain.gain.value = velocity / 127;
      source.connect(gain).connect(s.master);
      const stopAt = Math.max(start + 0.02, s.drums ? start + sample.buffer.duration : end);
      gain.gain.setValueAtTime(velocity / 127, stopAt);
      gain.gain.linearRampToValueAtTime(0, stopAt + RELEASE_S);
      source.start(start);
      source.stop(stopAt + RELEASE_S);
      s.scheduled += 1;
    }
  };

  s.setVolume = (v) => { if (s.master) s.master.gain.value = v; };

  s.setMidi = async (on) => {
    if (!on) {
      if (s.midiAccess) for (const input of s.midiAccess.inputs.values()) input.onmidimessage = null;
      s.midiAccess = null;
      report(describe());
      return;
    }
    if (!navigator.requestMIDIAccess) { report("Web MIDI is not available in this browser"); return; }
    try {
      s.midiAccess = await navigator.requestMIDIAccess();
    } catch (e) {
      report(`Web MIDI refused: ${e}`);
      return;
    }
    const listen = () => {
      for (const input of s.midiAccess.inputs.values()) {
        input.onmidimessage = (event) => {
          if (s.offset === null) return; // the clocks are not synced yet: it would land anywhere
          s.midiIn += 1;
          model.send({ type: "midi", data: Array.from(event.data), kernel: event.timeStamp / 1000 + s.offset });
        };
      }
    };
    listen();
    s.midiAccess.onstatechange = listen; // a keyboard plugged in later
    if (!s.timer) { s.timer = setInterval(() => { ping(); report(describe()); }, PING_EVERY_MS); ping(); }
    report(describe());
  };
  return s;
}

export default {
  initialize({ model }) {
    const s = audioEngine(model);
    window.hmmLiveSound = window.hmmLiveSound || {};
    window.hmmLiveSound[model.get("key")] = s;
    window.hmmLiveSound.last = s;
    model.on("msg:custom", (msg, buffers) => {
      if (msg.kernel !== undefined) s.onKernelTime(msg.kernel);
      if (msg.type === "pong") s.onPong(msg);
      else if (msg.type === "samples") s.onSamples(msg, buffers);
      else if (msg.type === "notes") s.onNotes(msg);
    });
    model.on("change:volume", () => s.setVolume(model.get("volume")));
    model.on("change:web_midi", () => s.setMidi(model.get("web_midi")));
    if (model.get("web_midi")) s.setMidi(true); // after a page reload
    return () => { s.stop(); if (s.ctx) s.ctx.close(); };
  },

  render({ model, el }) {
    const s = window.hmmLiveSound[model.get("key")];
    const button = document.createElement("button");
    button.className = "jupyter-button hmm-sound-toggle";
    const midi = document.createElement("label");
    midi.className = "hmm-web-midi";
    const box = document.createElement("input");
    box.type = "checkbox";
    midi.append(box, " Web MIDI in");
    const volume = document.createElement("input");
    volume.type = "range"; volume.min = "0"; volume.max = "1"; volume.step = "0.05";
    volume.className = "hmm-browser-volume";
    volume.title = "browser volume";
    const status = document.createElement("div");
    status.className = "hmm-browser-status";
    const draw = () => {
      const on = s.ctx && s.ctx.state === "running";
      button.textContent = on ? "Sound in this browser: on" : "Sound in this browser: off";
      button.dataset.on = on ? "true" : "false";
      box.checked = model.get("web_midi");
      volume.value = String(model.get("volume"));
      status.textContent = model.get("browser_status");
    };
    button.onclick = async () => { if (s.ctx && s.ctx.state === "running") await s.stop(); else await s.start(); draw(); };
    box.onchange = () => { model.set("web_midi", box.checked); model.save_changes(); };
    volume.oninput = () => { model.set("volume", Number(volume.value)); model.save_changes(); };
    model.on("change:browser_status", draw);
    model.on("change:web_midi", draw);
    draw();
    el.append(button, " ", volume, " ", midi, status);
    return () => { model.off("change:browser_status", draw); model.off("change:web_midi", draw); };
  },
};
