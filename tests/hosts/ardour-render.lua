-- Headless Ardour session for the Refrain VST3 host test; run by tests/hosts/ardour.sh through
-- Ardour's Lua session interpreter (`ardour7-lua` on Debian 12), never by hand in the GUI.
--
--   ardour7-lua ardour-render.lua setup  <session-dir> <name> <rate> <frames>
--   ardour7-lua ardour-render.lua render <session-dir> <name> <out-dir> <frames> <plugin-name>
--   ardour7-lua ardour-render.lua control <session-dir> <name> <out-dir> <frames>
--
-- Two phases, because Ardour 7's Lua session interpreter has no file import (import lives in the
-- GUI's Editor): `setup` creates the session, a mono and a stereo audio track, and bounces each
-- (silent) track into a region of exactly <frames> samples, so that Ardour itself writes the
-- region's source files, in its own format, and puts the regions on the tracks. Between the
-- phases ardour.sh overwrites those source files with the test audio (same format, same length).
-- `render` then loads the session and renders every track without and with Refrain, twice each:
--   * a session export of the master bus (SimpleExport, freewheeling the engine: the path a user's
--     "Export" takes), with the other track muted so each export holds one track;
--   * a bounce of the track itself (Track:bounce_range up to its main outs), per-track and
--     without the panner, which is what "Bounce" / "Consolidate with processing" run.
-- Every fact the shell script needs is printed on a line starting with "RESULT ".

-- The Dummy backend is hidden by default in release builds ("hide-dummy-backend"); it is the only
-- backend that runs without a sound card, so unhide it before asking for it.
ARDOUR.config():set_hide_dummy_backend(false)

local mode, dir, name = arg[1], arg[2], arg[3]

local function result(key, value)
	print(string.format("RESULT %s=%s", key, tostring(value)))
end

-- Stop the script here. (quit() only asks the interpreter to exit once the script returns, so
-- a failure raises a Lua error instead, which ends the script at once.)
local function fail(msg)
	result("error", msg)
	error(msg, 2)
end

-- Start the Dummy backend at the session's rate, silent input (the tracks' inputs are connected
-- to its capture ports, and we want nothing but the regions in the mix).
local function start_engine(rate)
	local be = AudioEngine:set_backend("None (Dummy)", "", "")
	if not be or be:isnil() then fail("no 'None (Dummy)' backend") end
	be:set_device_name("Silence")
	if rate then be:set_sample_rate(rate) end
	be:set_buffer_size(1024)
	if AudioEngine:start(false) ~= 0 then fail("the Dummy backend did not start") end
end

-- The test tracks; their names are what ardour.sh and this script look for. "Strict I/O" is on
-- for new tracks in Ardour's GUI (its add-track dialog sets it; the Lua call does not), and it
-- keeps a track's channel count through its plugins: a 2-in/2-out plugin on a mono track then
-- stays mono, feeding the same mono panner as without the plugin. "mono-flex" is a mono track
-- with strict I/O off: there Ardour lets the plugin widen the track to two channels, which swaps
-- the mono panner (-3 dB pan law) for the stereo balance panner, so its export with the plugin
-- is compared with the source on both channels rather than with its export without the plugin.
local TRACKS = {
	{ name = "mono", inputs = 1, strict = true },
	{ name = "stereo", inputs = 2, strict = true },
	{ name = "mono-flex", inputs = 1, strict = false },
}

local function setup()
	local rate, frames = tonumber(arg[4]), tonumber(arg[5])
	start_engine(rate)
	local s = create_session(dir, name, rate)
	if not s then fail("create_session failed") end
	result("session_rate", Session:nominal_sample_rate())

	for _, spec in ipairs(TRACKS) do
		-- n inputs, 2 outputs (to the master bus), no group, one track, strict I/O (the default
		-- for new tracks in the GUI too).
		local tl = Session:new_audio_track(spec.inputs, 2, nil, 1, spec.name, -1, ARDOUR.TrackMode.Normal, true)
		local t = tl:front()
		if not t or t:isnil() then fail("could not create track " .. spec.name) end
		t:set_strict_io(spec.strict)
		-- Bounce the empty track up to (not including) its main outs: one region of `frames`
		-- samples, one source file per track channel, written by Ardour in its native format.
		local r = t:bounce_range(0, frames, ARDOUR.InterThreadInfo(), t:main_outs(), false, spec.name .. "-src")
		if not r or r:isnil() then fail("bounce (placeholder region) failed on " .. spec.name) end
		-- No region fades: Ardour's default 64-sample fade-in/out would change the first and last
		-- samples, identically with and without the plugin, but not identically to the source.
		local ar = r:to_audioregion()
		ar:set_fade_in_active(false)
		ar:set_fade_out_active(false)
		t:playlist():add_region(r, Temporal.timepos_t(0), 1, false, 0, 0, false)
		for c = 0, ar:n_channels() - 1 do
			-- SOURCE lines: the files ardour.sh replaces with the test audio.
			result(string.format("source.%s.%d", spec.name, c), r:source(c):to_filesource():path())
		end
		result("region." .. spec.name .. ".frames", r:length():samples())
	end
	Session:save_state("", false, false, false, false, false)
	result("setup", "ok")
	close_session()
end

local function render()
	local outdir, frames, plugin_name = arg[4], tonumber(arg[5]), arg[6] or "Refrain"
	start_engine(nil)
	if load_session(dir, name) == nil then fail("load_session failed") end

	local tracks = {}
	for _, spec in ipairs(TRACKS) do
		local r = Session:route_by_name(spec.name)
		if r:isnil() then fail("track missing: " .. spec.name) end
		tracks[spec.name] = r:to_track()
	end

	-- Scanned = Ardour's plugin manager lists the VST3 from its scan cache (ardour.sh ran Ardour's
	-- scanner, ardour-vst3-scanner, as the GUI would on a plugin rescan).
	local found = false
	for p in ARDOUR.LuaAPI.list_plugins():iter() do
		if p.type == ARDOUR.PluginType.VST3 and p.name == plugin_name then
			found = true
			result("scan.unique_id", p.unique_id)
			result("scan.path", p.path)
		end
	end
	result("scanned", found and "yes" or "no")

	local function set_mute(track, on)
		track:mute_control():set_value(on and 1 or 0, PBD.GroupControlDisposition.NoGroup)
	end

	-- Let the process thread pick up mute and processor changes before rendering.
	local function settle()
		ARDOUR.LuaAPI.wait_for_process_callback(8, 2000)
	end

	-- Export the master bus over [0, frames) as 32-bit float WAV into outdir/<label>.wav, with only
	-- track `solo_name` audible. The preset (float WAV, no dither, no normalisation) is written into
	-- the temporary user config by ardour.sh; its id is passed in REFRAIN_ARDOUR_PRESET.
	local preset = os.getenv("REFRAIN_ARDOUR_PRESET")
	local function export(label, solo_name)
		for n, t in pairs(tracks) do set_mute(t, n ~= solo_name) end
		settle()
		local e = Session:simple_export()
		if not e:set_preset(preset) then fail("export preset " .. tostring(preset) .. " not found") end
		e:set_folder(outdir)
		e:set_name(label)
		e:set_range(0, frames)
		local ok = e:run_export()
		result("export." .. label, ok and (outdir .. "/" .. label .. ".wav") or "failed")
	end

	-- Bounce one track through its processors (disk reader, trim, plugins, fader) up to its main
	-- outs; the new region's sources are the rendered channels. Not added to any playlist.
	local function bounce(label, track)
		local r = track:bounce_range(0, frames, ARDOUR.InterThreadInfo(), track:main_outs(), false, label)
		if not r or r:isnil() then
			result("bounce." .. label, "failed")
			return
		end
		local ar = r:to_audioregion()
		for c = 0, ar:n_channels() - 1 do
			result(string.format("bounce.%s.%d", label, c), r:source(c):to_filesource():path())
		end
	end

	-- 1. Without the plugin: the reference renders.
	for _, spec in ipairs(TRACKS) do
		export(spec.name .. "-dry", spec.name)
		bounce(spec.name .. "-dry", tracks[spec.name])
	end

	-- 2. Insert Refrain (default settings) first in each track's chain.
	local inserted = 0
	for _, spec in ipairs(TRACKS) do
		local t = tracks[spec.name]
		local proc = ARDOUR.LuaAPI.new_plugin(Session, plugin_name, ARDOUR.PluginType.VST3, "")
		if proc:isnil() then
			result("load." .. spec.name, "no (new_plugin returned nil: not scanned, or instantiation failed)")
		else
			local rv = t:add_processor_by_index(proc, 0, nil, true)
			if rv ~= 0 then
				result("load." .. spec.name, "no (add_processor_by_index returned " .. tostring(rv) .. ")")
			else
				inserted = inserted + 1
				result("load." .. spec.name, "yes")
				local pi = proc:to_insert()
				-- How Ardour wired it: the plugin is 2-in/2-out; on the mono track strict I/O decides.
				pcall(function()
					result("io." .. spec.name, string.format("track in %d -> plugin in %d / out %d (plugin natural %d/%d), %d instance(s)",
						pi:input_streams():n_audio(), pi:natural_input_streams():n_audio() * pi:get_count(),
						pi:output_streams():n_audio(),
						pi:natural_input_streams():n_audio(), pi:natural_output_streams():n_audio(), pi:get_count()))
				end)
				pcall(function() result("latency." .. spec.name, pi:plugin(0):signal_latency()) end)
				pcall(function() result("active." .. spec.name, proc:active() and "yes" or "no") end)
			end
		end
	end
	result("inserted", inserted)
	settle()

	-- 3. With the plugin.
	for _, spec in ipairs(TRACKS) do
		export(spec.name .. "-wet", spec.name)
		bounce(spec.name .. "-wet", tracks[spec.name])
	end

	-- 4. Parameters as Ardour sees them (control inputs, in Ardour's numbering), and one export
	-- of the stereo track with Dry/Wet at 1 ("preview only"): for information, since with
	-- nothing previewing Refrain leaves the track as it is at any Dry/Wet.
	local sproc = tracks["stereo"]:nth_plugin(0)
	if not sproc:isnil() then
		local plug, ctl, set = sproc:to_insert():plugin(0), 0, false
		for j = 0, plug:parameter_count() - 1 do
			if plug:parameter_is_control(j) then
				local label = plug:parameter_label(j)
				if plug:parameter_is_input(j) then
					result(string.format("param.%d", ctl), label .. " = " ..
						tostring(ARDOUR.LuaAPI.get_processor_param(sproc, ctl)))
					if label == "Dry/Wet" then
						set = ARDOUR.LuaAPI.set_processor_param(sproc, ctl, 1.0)
					end
				end
				ctl = ctl + 1
			end
		end
		if set then
			settle()
			export("stereo-drywet1", "stereo")
			ARDOUR.LuaAPI.reset_processor_to_default(sproc)
		end
	end

	-- Keep the session (with the plugin on both tracks and all tracks unmuted) for inspection.
	for _, t in pairs(tracks) do set_mute(t, false) end
	Session:save_state("", false, false, false, false, false)
	result("render", "ok")
	close_session()
end

-- Negative control, run with REFRAIN_TEST_ALLOC_IN_PROCESS=1 (Refrain's hook: process()
-- allocates): load the rendered session, whose tracks carry the plugin, and let the engine run
-- and export. A debug build of the plugin must abort Ardour here (nice-plug's
-- assert_process_allocs), which shows both that Ardour really calls its process() and that the
-- allocation check guarding the renders above was armed. Reaching "control=survived" means it
-- was not (a release build, or process() never called).
local function control()
	local outdir, frames = arg[4], tonumber(arg[5])
	start_engine(nil)
	if load_session(dir, name) == nil then fail("load_session failed") end
	ARDOUR.LuaAPI.wait_for_process_callback(50, 5000)
	local e = Session:simple_export()
	e:set_preset(os.getenv("REFRAIN_ARDOUR_PRESET"))
	e:set_folder(outdir)
	e:set_name("control")
	e:set_range(0, frames)
	e:run_export()
	result("control", "survived")
	close_session()
end

if mode == "setup" then
	setup()
elseif mode == "control" then
	control()
elseif mode == "render" then
	render()
else
	fail("usage: ardour-render.lua setup|render ...")
end
quit()
