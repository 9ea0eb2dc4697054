"""The kit's feedback page: nbgrader's feedback template, with hand-graded parts that wait
for a person shown as 채점 대기 (PendingManualFeedback marks them).

nbgrader's template prints every score through `| float`, so a part nobody graded yet reads
"0.0 / 3.0", and the total counts its points as lost. The kit's template extends nbgrader's
and changes only the score texts: the header, the table of contents and the cells' headings.

The kit's one feedback setting is its preprocessor list (dropout_kit.engine.config), so this
preprocessor hands the template to the exporter that constructs it, as the exporter's raw
template (it takes precedence over the template files, and a Python string ships in the
wheel). An instructor who configured another template than nbgrader's keeps it.
"""
from __future__ import annotations

from nbconvert.exporters import TemplateExporter
from nbconvert.preprocessors import Preprocessor

# The template GenerateFeedback sets unless configured otherwise; the kit's extends it.
NBGRADER_FEEDBACK = "feedback"

# `index.html.j2` is nbgrader's feedback template: the exporter's template paths start with
# its folder. Its score texts are in its blocks body (header, table of contents) and, through
# its macro nbgrader_heading, markdowncell and input. A child cannot replace a parent's macro
# (the parent defines it again before rendering), so these blocks are nbgrader's, calling
# kit_heading; body renders the cells with nbgrader's own parent template (super.super()).
TEMPLATE = """\
{%- extends 'index.html.j2' -%}

{% macro points(value) -%}{{ value | float | round(2) }}{%- endmacro %}

{% macro score_text(cell) -%}
{%- if cell.metadata.nbgrader.score is none -%}
채점 대기, 배점 {{ points(cell.metadata.nbgrader.points) }}
{%- else -%}
Score: {{ points(cell.metadata.nbgrader.score) }} / {{ points(cell.metadata.nbgrader.points) }}
{%- endif -%}
{%- endmacro %}

{% block body %}
{%- set pending = resources.nbgrader.pending_points or 0 -%}
<body>
  <a name="top"></a>
  <div class="container">
    <div class="panel panel-default">
      <div class="panel-heading">
        <h4>{{ resources.nbgrader.notebook }} (Score: {{ points(resources.nbgrader.score) }} / {{ points(resources.nbgrader.max_score - pending) }}
        {%- if pending %} + 채점 대기 {{ points(pending) }}점{% endif %})</h4>
        {%- if pending %}
        <p class="pending-manual">채점 대기: 강사가 아직 채점하지 않은 부분입니다. 채점이 끝나면 그 점수가 총점에 더해집니다.</p>
        {%- endif %}
        <div id="toc">
          <ol>
          {% for cell in nb.cells %}
            {% if cell.metadata.nbgrader and cell.metadata.nbgrader.grade and not cell.metadata.nbgrader.solution %}
            <li><a href="#{{ cell.metadata.nbgrader.grade_id }}">Test cell</a> ({{ score_text(cell) }})</li>
            {% elif cell.cell_type == "code" and cell.metadata.nbgrader and cell.metadata.nbgrader.grade %}
            <li><a href="#{{ cell.metadata.nbgrader.grade_id }}">Coding free-response</a> ({{ score_text(cell) }})</li>
            {% elif cell.cell_type == "markdown" and cell.metadata.nbgrader and cell.metadata.nbgrader.grade %}
            <li><a href="#{{ cell.metadata.nbgrader.grade_id }}">Written response</a> ({{ score_text(cell) }})</li>
            {% elif cell.cell_type == "markdown" and cell.metadata.nbgrader and cell.metadata.nbgrader.task %}
            <li><a href="#{{ cell.metadata.nbgrader.grade_id }}">Task</a> ({{ score_text(cell) }})</li>
            {% endif %}
            {% if cell.metadata.nbgrader and cell.metadata.nbgrader.comment %}
            <li><a href="#comment-{{ cell.metadata.nbgrader.grade_id }}">Comment</a></li>
            {% endif %}
          {% endfor %}
          {% if resources.nbgrader.late_penalty > 0 %}
            <li class="late-penalty">Late submission penalty (Score: -{{ points(resources.nbgrader.late_penalty) }})</li>
          {% endif %}
          </ol>
        </div>
      </div>
      <div class="panel-body">
        <div id="notebook" class="border-box-sizing">
          <div class="container" id="notebook-container">
            {{ super.super() }}
          </div>
        </div>
      </div>
    </div>
  </div>
</body>
{%- endblock body %}

{% macro kit_score(cell) -%}
  <span class="pull-right">
      {{ score_text(cell) }} <a href="#top">(Top)</a>
  </span>
{%- endmacro %}

{% macro kit_heading(cell) -%}
{%- if cell.metadata.nbgrader.solution or cell.metadata.nbgrader.task -%}
<a name="comment-{{ cell.metadata.nbgrader.grade_id }}"></a>
{%- endif -%}
{%- if cell.metadata.nbgrader.grade -%}
<a name="{{ cell.metadata.nbgrader.grade_id }}"></a>
{%- endif -%}
<div class="panel-heading">
{%- if cell.metadata.nbgrader.solution -%}
  <span class="nbgrader-label">Student's answer</span>
  {%- if cell.metadata.nbgrader.grade  -%}
  {{ kit_score(cell) }}
  {%- else -%}
  <span class="pull-right"><a href="#top">(Top)</a></span>
  {%- endif -%}
{%- elif cell.metadata.nbgrader.task -%}
  <span class="nbgrader-label">Student's task</span>
  {{ kit_score(cell) }}
{%- elif cell.metadata.nbgrader.grade -%}
  <span class="nbgrader-label">Grade cell: <code>{{ cell.metadata.nbgrader.grade_id }}</code></span>
  {{ kit_score(cell) }}
{%- endif -%}
</div>
{%- endmacro %}

{% block markdowncell scoped %}
<div class="cell border-box-sizing text_cell rendered">
  {{ self.empty_in_prompt() }}

  {%- if 'nbgrader' in cell.metadata and (cell.metadata.nbgrader.solution or cell.metadata.nbgrader.grade or cell.metadata.nbgrader.task) -%}
  <div class="panel panel-primary nbgrader_cell">
    {{ kit_heading(cell) }}
    <div class="panel-body">
      <div class="text_cell_render border-box-sizing rendered_html">
        {{ cell.source  | markdown2html | strip_files_prefix }}
      </div>
    </div>
    {{ nbgrader_footer(cell) }}
  </div>

  {%- else -%}

  <div class="inner_cell">
    <div class="text_cell_render border-box-sizing rendered_html">
      {{ cell.source  | markdown2html | strip_files_prefix }}
    </div>
  </div>

  {%- endif -%}

</div>
{% endblock markdowncell %}

{% block input %}
  {%- if 'nbgrader' in cell.metadata and (cell.metadata.nbgrader.solution or cell.metadata.nbgrader.grade) -%}
  <div class="panel panel-primary nbgrader_cell">
    {{ kit_heading(cell) }}
    <div class="panel-body">
      <div class="input_area">
        {{ cell.source | highlight_code(metadata=cell.metadata) }}
      </div>
    </div>
    {{ nbgrader_footer(cell) }}
  </div>

  {%- else -%}

  <div class="inner_cell">
    <div class="input_area">
      {{ cell.source | highlight_code(metadata=cell.metadata) }}
    </div>
  </div>
  {%- endif -%}

{% endblock input %}
"""


class KitFeedbackTemplate(Preprocessor):
    """Changes no notebook; makes the exporter that registers it render with TEMPLATE."""

    enabled = True  # nbconvert preprocessors are off unless enabled

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        exporter = self.parent
        if isinstance(exporter, TemplateExporter) and exporter.template_name == NBGRADER_FEEDBACK:
            exporter.raw_template = TEMPLATE

    def preprocess(self, nb, resources):
        return nb, resources
