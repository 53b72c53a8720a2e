--[[
Quarto features for plain pandoc (the fallback renderer): numbered cross-references to
figures, tables and sections (@fig-x, @tbl-x, @sec-x) and callout blocks (.callout-note ...).

Pandoc reads @fig-x as a citation; without this filter HTML shows "@fig-x" and Typst fails on a
missing bibliography. A reference to a label that does not exist stops the render (error()),
because a report with a dangling "Figure ??" must not be published.
Prefixes and callout titles come from the metadata Quarto itself reads (crossref.fig-prefix,
language.callout-note-title, ...), so one translation table serves both renderers.
--]]

local KINDS = { fig = true, tbl = true, sec = true }
local numbers = {}   -- label -> "3" or "2.1"
local seen = {}      -- label -> true for every element carrying a cross-reference label
local prefixes = { fig = "Figure", tbl = "Table", sec = "Section" }
local callout_titles = {
  note = "Note", tip = "Tip", warning = "Warning", important = "Important", caution = "Caution",
}
local is_typst = FORMAT:match("typst") ~= nil
local resource_root = nil

local function kind_of(label)
  local kind = label:match("^(%a+)%-")
  if kind and KINDS[kind] then return kind end
  return nil
end

local function read_meta(meta)
  local crossref = meta.crossref or {}
  for kind, _ in pairs(KINDS) do
    local value = crossref[kind .. "-prefix"]
    if value then prefixes[kind] = pandoc.utils.stringify(value) end
  end
  local language = meta.language or {}
  for kind, _ in pairs(callout_titles) do
    local value = language["callout-" .. kind .. "-title"]
    if value then callout_titles[kind] = pandoc.utils.stringify(value) end
  end
  if meta["resource-root"] then resource_root = pandoc.utils.stringify(meta["resource-root"]) end
end

-- Number labelled figures and tables in document order (Quarto numbers only labelled ones) and
-- every numbered heading hierarchically, relative to the highest heading level used.
local function collect(doc)
  local counters = { fig = 0, tbl = 0 }
  local top = 99
  doc:walk({ Header = function(h) if h.level < top then top = h.level end end })
  local levels = {}
  local function label(kind, id)
    if seen[id] then error("duplicate cross-reference label: " .. id) end
    seen[id] = true
    counters[kind] = counters[kind] + 1
    numbers[id] = tostring(counters[kind])
  end
  doc:walk({
    traverse = "topdown",
    -- a callout's heading is its title, not a section (pandoc never sees it as one)
    Div = function(d)
      for _, class in ipairs(d.classes) do
        if class:match("^callout%-") then return nil, false end
      end
    end,
    Figure = function(f) if kind_of(f.identifier) == "fig" then label("fig", f.identifier) end end,
    Table = function(t) if kind_of(t.identifier) == "tbl" then label("tbl", t.identifier) end end,
    Header = function(h)
      if h.classes:includes("unnumbered") then return end
      local depth = h.level - top + 1
      levels[depth] = (levels[depth] or 0) + 1
      for deeper = depth + 1, #levels do levels[deeper] = nil end
      local parts = {}
      for i = 1, depth do parts[i] = tostring(levels[i] or 0) end
      if kind_of(h.identifier) == "sec" then
        seen[h.identifier] = true
        numbers[h.identifier] = table.concat(parts, ".")
      end
    end,
  })
end

local function reference(citation)
  local id = citation.id
  local kind = kind_of(id)
  if not seen[id] then
    error("broken cross-reference @" .. id .. ": no figure, table or section has this label")
  end
  if is_typst then
    return pandoc.RawInline("typst", "#ref(<" .. id .. ">)")
  end
  return pandoc.Link(prefixes[kind] .. "\u{a0}" .. numbers[id], "#" .. id)
end

local function cite(element)
  local out = pandoc.List()
  for _, citation in ipairs(element.citations) do
    if not kind_of(citation.id) then return nil end  -- a real citation: leave it alone
    if #out > 0 then out:insert(pandoc.Str(", ")) end
    out:insert(reference(citation))
  end
  return out
end

local function caption_prefix(element, kind)
  if is_typst or not numbers[element.identifier] then return element end
  local text = prefixes[kind] .. "\u{a0}" .. numbers[element.identifier] .. ": "
  local long = element.caption.long
  if #long == 0 then long:insert(pandoc.Plain({})) end
  long[1].content:insert(1, pandoc.Str(text))
  return element
end

local function callout(div)
  local kind = nil
  for _, class in ipairs(div.classes) do
    local match = class:match("^callout%-(%a+)$")
    if match and callout_titles[match] then kind = match end
  end
  if not kind then return nil end
  local content = div.content
  local title = pandoc.Inlines(callout_titles[kind])
  if div.attributes.title then
    title = pandoc.Inlines(div.attributes.title)
  elseif #content > 0 and content[1].t == "Header" then
    title = content[1].content
    content = pandoc.Blocks({ table.unpack(content, 2) })
  end
  if is_typst then
    local title_typst = pandoc.write(pandoc.Pandoc({ pandoc.Plain(title) }), "typst")
    local blocks = pandoc.List({
      pandoc.RawBlock("typst", '#callout(kind: "' .. kind .. '", title: [' .. title_typst .. "])["),
    })
    blocks:extend(content)
    blocks:insert(pandoc.RawBlock("typst", "]"))
    return blocks
  end
  local box = pandoc.Div({
    pandoc.Div({ pandoc.Plain(title) }, { class = "callout-title" }),
    pandoc.Div(content, { class = "callout-body" }),
  }, { class = "callout callout-" .. kind, role = "note" })
  return box
end

-- Typst resolves image paths against its project root; make absolute paths relative to it so
-- the PDF also builds on Windows drives.
local function image(img)
  if is_typst and resource_root and pandoc.path.is_absolute(img.src) then
    img.src = pandoc.path.make_relative(img.src, resource_root, true)
    return img
  end
end

return {
  {
    Pandoc = function(doc)
      read_meta(doc.meta)
      collect(doc)
      return doc:walk({
        Cite = cite,
        Figure = function(f) return caption_prefix(f, "fig") end,
        Table = function(t) return caption_prefix(t, "tbl") end,
        Div = callout,
        Image = image,
      })
    end,
  },
}
